"""Benchmark: the Step-Audio TTS road on this CPU at tiny sizes -- our server (openai SDK,
model step-audio-tts, voice Tingting, streamed pcm) beside the raw road in-process (the same
prompt ids POSTed to the same stand-in SGLang with httpx, decoded by the same codec engine as
the ids arrive), as a ratio: these machines are noisy.

Run: python bench/step_audio.py [--runs 5] [--tokens 250] [--threads 1]
The tiny Step-Audio folders come from stepaudio_codec.tiny (the tests' road builder); the
stand-in generates with the reference Step-1. Server, stand-in and raw road share one process,
so one torch thread setting holds for all of them; server and raw runs alternate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins" / "stepaudio-step-audio" / "tests"))

from step_audio_setup import write_models  # noqa: E402

from stepaudio_api.engines.codec import CodecPrompt, is_audio_id  # noqa: E402
from stepaudio_api.testing import TestServer, running_server  # noqa: E402
from stepaudio_sglang.standin import StandinOptions, StandinServer  # noqa: E402
from stepaudio_step_audio.prompts import EOT_ID, tts_prompt_ids  # noqa: E402
from stepaudio_step_audio.sglang_options import REPETITION_PROCESSOR  # noqa: E402
from stepaudio_step_audio.speakers import load_clip  # noqa: E402

TEXT = "我们明天早上一起去公园散步吧。"  # one clause: the server speaks it in one generation
VOICE = "Tingting"
PCM_RATE = 24000  # the server's response_format pcm: 16-bit mono at 24 kHz


@dataclass
class Figures:
    first: list[float] = field(default_factory=list)
    whole: list[float] = field(default_factory=list)
    audio: list[float] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)

    def add(self, first: float, whole: float, audio: float, tokens: int) -> None:
        self.first.append(first)
        self.whole.append(whole)
        self.audio.append(audio)
        self.tokens.append(tokens)

    def rtf(self) -> list[float]:
        return [w / a for w, a in zip(self.whole, self.audio, strict=True)]

    def share(self) -> list[float]:
        return [f / w for f, w in zip(self.first, self.whole, strict=True)]


def same_seed(standin: StandinServer) -> None:
    """The next request draws the stand-in's first seed (--random-seed 7): every reply, server
    or raw, samples the same ids (the engine sends no sampling_seed of its own)."""
    standin.manager._seeds = random.Random(7)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[round(0.95 * (len(ordered) - 1))]


def config(models: Path, tts_url: str, tokens: int) -> str:
    tts = models / "Step-Audio-TTS-3B"
    return f"""
[engines.codec]
type = "step-audio-codec"
tokenizer_dir = "{models / "Step-Audio-Tokenizer"}"
decoder_dir = "{tts}"

[engines.tts-bench]
type = "step-audio-tts"
base_url = "{tts_url}"
model_dir = "{tts}"
codec = "codec"
speakers_dir = "{models / "speakers"}"
max_new_tokens = {tokens}
seed = 0

[[models]]
id = "step-audio-tts"
engine = "tts-bench"
"""


@contextmanager
def road(directory: Path, tokens: int) -> Iterator[tuple[TestServer, StandinServer]]:
    """The tests' tiny folders, one stand-in SGLang (fixed random seed) and our server with
    only the codec and a TTS engine of ``tokens`` new ids."""
    models = write_models(directory / "models")
    standin = StandinServer(
        models / "Step-Audio-TTS-3B",
        StandinOptions(skip_tokenizer_init=True, enable_custom_logit_processor=True,
                       random_seed=7),
    )  # fmt: skip
    with standin.serving() as url:
        path = directory / "bench.toml"
        path.write_text(config(models, url, tokens))
        environ = {"STEPAUDIO_CONFIG": str(path)}
        with running_server(directory, engines=["codec", "tts-bench"], environ=environ) as server:
            yield server, standin


def served(client: openai.OpenAI) -> tuple[float, float, float]:
    """(first audio byte, whole reply, audio seconds) through the SDK."""
    started = time.perf_counter()
    first, size = 0.0, 0
    with client.audio.speech.with_streaming_response.create(
        model="step-audio-tts", voice=VOICE, input=TEXT, response_format="pcm"
    ) as response:
        for chunk in response.iter_bytes():
            if chunk and not size:
                first = time.perf_counter() - started
            size += len(chunk)
    return first, time.perf_counter() - started, size / 2 / PCM_RATE


class RawRoad:
    """The same work without our server: POST /generate, decode with the codec as ids come."""

    def __init__(self, url: str, engine: Any, prompt: CodecPrompt, input_ids: list[int]) -> None:
        self.url, self.engine, self.prompt, self.input_ids = url, engine, prompt, input_ids

    def body(self) -> dict[str, Any]:
        return {
            "input_ids": self.input_ids,
            "sampling_params": self.engine.sampling_params(),
            "stream": True,
            "rid": uuid.uuid4().hex,
            "custom_logit_processor": REPETITION_PROCESSOR,
        }

    async def ids(self, http: httpx.AsyncClient, count: list[int]) -> AsyncIterator[int]:
        seen = 0
        async with http.stream("POST", f"{self.url}/generate", json=self.body()) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if not line.startswith("data:") or line[5:].strip() == "[DONE]":
                    continue
                output = json.loads(line[5:])["output_ids"]
                for token_id in output[seen:]:  # cumulative: not --incremental-streaming-output
                    if is_audio_id(token_id):
                        count[0] += 1
                        yield token_id
                    elif token_id != EOT_ID:
                        raise RuntimeError(f"the stand-in generated a non-audio id {token_id}")
                seen = len(output)

    async def run(self) -> tuple[float, float, float, int]:
        codec = self.engine.codec
        count = [0]
        async with httpx.AsyncClient(timeout=120) as http:
            started = time.perf_counter()
            first, samples, rate = 0.0, 0, 1
            chunks = codec.detokenize(self.ids(http, count), self.prompt, "speak",
                                      seed=self.engine.seed)  # fmt: skip
            async for chunk in chunks:
                if not samples:
                    first = time.perf_counter() - started
                samples, rate = samples + len(chunk.samples), chunk.sample_rate
            return first, time.perf_counter() - started, samples / rate, count[0]


async def raw_road(server: TestServer, url: str) -> RawRoad:
    """The engine's prompt for Tingting, made once with the codec's prepare_prompt."""
    engine = server.services.engines.engines["tts-bench"]
    clip = engine.clips[VOICE]
    samples, rate = load_clip(clip.path)
    prompt = await engine.codec.prepare_prompt(samples, rate, clip.transcript)
    input_ids = tts_prompt_ids(engine.tokenizer, TEXT, prompt.transcript, prompt.ids, VOICE)
    return RawRoad(url, engine, prompt, input_ids)


def report(server: Figures, raw: Figures, runs: int, threads: int) -> None:
    print(f"Step-Audio TTS road, tiny sizes, CPU, torch threads {threads} (server and raw alike);"
          f" {runs} runs each, alternating")  # fmt: skip
    print(
        f"text {TEXT!r}, voice {VOICE}; ids per reply: server {sorted(set(server.tokens))}, "
        f"raw {sorted(set(raw.tokens))}; audio {statistics.median(server.audio):.2f} s "
        f"(server, 24 kHz pcm) / {statistics.median(raw.audio):.2f} s (raw, 22.05 kHz)"
    )
    rows = [
        ("first audio, median (ms)", server.first, raw.first, statistics.median, 1000),
        ("first audio, p95 (ms)", server.first, raw.first, p95, 1000),
        ("whole reply, median (ms)", server.whole, raw.whole, statistics.median, 1000),
        ("whole reply, p95 (ms)", server.whole, raw.whole, p95, 1000),
        ("real-time factor, median", server.rtf(), raw.rtf(), statistics.median, 1),
        ("real-time factor, p95", server.rtf(), raw.rtf(), p95, 1),
        ("first audio / whole, median", server.share(), raw.share(), statistics.median, 1),
    ]
    print(f"{'measure':30} | {'server':>9} | {'raw':>9} | {'ratio':>6}")
    print(f"{'-' * 30}-+-{'-' * 9}-+-{'-' * 9}-+-{'-' * 6}")
    for label, ours, theirs, pick, scale in rows:
        s, r = pick(ours), pick(theirs)
        digits = 0 if scale > 1 else 3
        print(f"{label:30} | {s * scale:9.{digits}f} | {r * scale:9.{digits}f} | {s / r:5.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=250, help="max_new_tokens (5 ids: 120 ms)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (whole process)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp, road(Path(tmp), args.tokens) as (server, standin):
        client = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="sk-test", max_retries=0)
        loop = asyncio.new_event_loop()
        try:
            served(client)  # warm-up; makes the engine's own prompt for Tingting
            raw = loop.run_until_complete(raw_road(server, standin.url))
            if standin.received[-1]["input_ids"] != raw.input_ids:
                raise SystemExit("the raw prompt ids differ from the ones the server sent")
            loop.run_until_complete(raw.run())  # warm-up
            ours, theirs = Figures(), Figures()
            replies: set[tuple[int, ...]] = set()
            for _ in range(args.runs):
                same_seed(standin)
                first, whole, audio = served(client)
                ids = [i for i in standin.answers[-1]["output_ids"] if is_audio_id(i)]
                ours.add(first, whole, audio, len(ids))
                replies.add(tuple(ids))
                same_seed(standin)
                theirs.add(*loop.run_until_complete(raw.run()))
                replies.add(tuple(i for i in standin.answers[-1]["output_ids"] if is_audio_id(i)))
        finally:
            loop.close()
    report(ours, theirs, args.runs, args.threads)
    print(f"distinct generations over all {2 * args.runs} replies: {len(replies)} (fixed seeds)")


if __name__ == "__main__":
    main()
