"""Benchmark: many realtime sessions talking at once, and the server's capacity.

Run: python bench/realtime_capacity.py [--sessions 20] [--seconds 60]   (one load)
     python bench/realtime_capacity.py --capacity [--seconds 60]        (the sweep)

Each session speaks an utterance (made once by /v1/audio/speech), then 2 s of silence, looped,
in real time; the chat brain is the stand-in, answering at once. A turn counts as answered in
time when the first audio of its answer comes within 1.5 s of the true end of its speech; a
turn never answered (cut by the next utterance, or left) counts as late. The sweep runs with
the server's own limits off and reports the most sessions with 95% of turns answered in time,
and that per core: what realtime.sessions_per_core is set from. A last load beyond the
default limit shows the server refusing what it cannot answer (error event, close 1013).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from realtime_client import Mic, Utterance, connect, make_utterances, ms
from servers import start_server, stop_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from chat_stand_in import ChatStandIn, Reply

IN_TIME = 1.5
GAP_MS = 2000


@dataclass
class Talk:
    """One session's load."""

    answers: list[float] = field(default_factory=list)
    """Seconds from each answered turn's true end to its first audio."""
    turns: int = 0
    """Utterances spoken to their end."""
    done: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    refused: str | None = None
    late_client: float = 0.0

    @property
    def in_time(self) -> int:
        return sum(1 for a in self.answers if a <= IN_TIME)


async def talk(base: str, index: int, utterances: list[Utterance], seconds: float,
               stagger: float) -> Talk:  # fmt: skip
    result = Talk()
    await asyncio.sleep(stagger)
    async with connect(base) as connection:
        first = json.loads(await connection.recv_bytes())
        if first["type"] == "error":
            result.refused = first["error"]["code"]
            return result
        mic = Mic(connection)
        chunks_total, spoken = int(seconds * 1000 / 20), 0
        for turn in range(index, index + 1000):
            utterance = utterances[turn % len(utterances)]
            if spoken + len(utterance.chunks) + GAP_MS // 20 > chunks_total:
                break
            mic.say(utterance, GAP_MS)
            spoken += len(utterance.chunks) + GAP_MS // 20
        answered_for = 0

        async def listen() -> None:
            nonlocal answered_for
            while True:
                event = json.loads(await connection.recv_bytes())
                kind = event["type"]
                if kind == "response.output_audio.delta" and len(mic.speech_ends) > answered_for:
                    result.answers.append(time.monotonic() - mic.speech_ends[-1])
                    answered_for = len(mic.speech_ends)
                elif kind == "response.done":
                    result.done[event["response"]["status"]] += 1
                elif kind == "error":
                    result.errors.append(event["error"].get("message", ""))

        listener = asyncio.create_task(listen())
        await mic.run(chunks_total)
        await asyncio.sleep(IN_TIME + 0.5)  # the last turn's answer
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        result.turns, result.late_client = len(mic.speech_ends), mic.late
    return result


async def load(base: str, utterances: list[Utterance], sessions: int, seconds: float,
               server: psutil.Process) -> tuple[list[Talk], float]:  # fmt: skip
    before = server.cpu_times()
    started = time.monotonic()
    talks = await asyncio.gather(*(talk(base, i, utterances, seconds, 2.0 * i / sessions)
                                   for i in range(sessions)))  # fmt: skip
    after = server.cpu_times()
    cores = (after.user + after.system - before.user - before.system) / (time.monotonic() - started)
    return list(talks), cores


def report(sessions: int, talks: list[Talk], cores: float) -> float:
    """Print one load's figures; the share of turns answered in time."""
    turns = sum(t.turns for t in talks)
    answers = [a for t in talks for a in t.answers]
    in_time = sum(t.in_time for t in talks)
    refused = Counter(t.refused for t in talks if t.refused)
    share = in_time / turns if turns else 0.0
    latency = (f"median {ms(answers):.0f} ms, p95 {ms(answers, 0.95):.0f} ms" if answers
               else "none answered")  # fmt: skip
    cancelled = sum(t.done["cancelled"] for t in talks)
    errors = [e for t in talks for e in t.errors]
    print(f"{sessions:9}{turns:7}{len(answers):9}{in_time:9}{share:9.1%}   {latency:32}"
          f"{cancelled:10}{len(errors):7}{cores:10.2f}  {dict(refused) or ''}")  # fmt: skip
    return share


HEADER = (f"{'sessions':>9}{'turns':>7}{'answered':>9}{'in time':>9}{'share':>9}   "
          f"{'true end -> first audio':32}{'cancelled':>10}{'errors':>7}"
          f"{'cpu cores':>10}")  # fmt: skip


def run(args: argparse.Namespace, upstream: ChatStandIn, limits: bool) -> None:
    env = {"STEPAUDIO_CHAT_BASE_URL": upstream.base_url, "STEPAUDIO_CHAT_MODEL": "bench-brain",
           "STEPAUDIO_REALTIME__MAX_SESSIONS_PER_KEY": "1000"}  # fmt: skip
    if not limits:  # the server's own limits off: find where it stops answering in time
        env |= {
            "STEPAUDIO_REALTIME__MAX_SESSIONS": "1000",
            "STEPAUDIO_REALTIME__SHED_LOAD": "false",
        }
    process, base = start_server(env)
    try:
        server = psutil.Process(process.pid)
        utterances = make_utterances(base)
        print(HEADER)
        if not args.capacity:
            talks, cores = asyncio.run(load(base, utterances, args.sessions, args.seconds, server))
            report(args.sessions, talks, cores)
            print(f"server resident memory at the end: {server.memory_info().rss / 2**20:.0f} MB")
            return
        best, sessions = 0, args.start
        while True:
            talks, cores = asyncio.run(load(base, utterances, sessions, args.seconds, server))
            if report(sessions, talks, cores) < 0.95:
                break
            best, sessions = sessions, sessions + args.step
        machine = len(os.sched_getaffinity(0))
        print(f"capacity: {best} talking sessions with 95% of turns answered within {IN_TIME} s"
              f" on {machine} cores = {best / machine:.1f} sessions per core "
              f"(realtime.sessions_per_core)")  # fmt: skip
    finally:
        stop_server(process)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--capacity", action="store_true", help="sweep for the capacity")
    parser.add_argument("--start", type=int, default=8)
    parser.add_argument("--step", type=int, default=4)
    parser.add_argument("--limits", action="store_true",
                        help="keep the server's own limits (show its refusals)")  # fmt: skip
    args = parser.parse_args()
    with ChatStandIn() as upstream:
        upstream.default = Reply(content=["Okay", " then."])
        run(args, upstream, limits=args.limits and not args.capacity)


if __name__ == "__main__":
    main()
