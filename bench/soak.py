"""Soak: 8 realtime sessions talking and HTTP speech and transcription load, for 10 minutes.

Run: python bench/soak.py [--seconds 600] [--sessions 8] [--database-url URL]

Resident memory is sampled every 30 s (it must stay flat: within 5% from the second minute
on); at the end, with every client gone, the server's open files, asyncio tasks, database
connections, realtime sessions and pending writes are read (from /metrics and the process),
and every turn and request is accounted for: answered, or refused clearly.
Not in CI (it takes ten minutes); its figures go in the issue notes.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import psutil
from realtime_capacity import IN_TIME, Talk, talk
from realtime_client import make_utterances
from servers import start_server, stop_server

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from chat_stand_in import ChatStandIn, Reply  # noqa: E402

JFK = (ROOT / "tests" / "data" / "en_jfk.flac").read_bytes()
SAMPLE_EVERY = 30.0


async def http_load(base: str, seconds: float, statuses: Counter[str]) -> None:
    """One client speaking and one transcribing, back to back, for ``seconds``."""
    stop = time.monotonic() + seconds

    async def speak(client: httpx.AsyncClient) -> None:
        body = {"model": "tts-1", "voice": "alloy", "response_format": "mp3",
                "input": "This is the soak test speaking. It goes on for a while."}  # fmt: skip
        while time.monotonic() < stop:
            response = await client.post("/v1/audio/speech", json=body)
            statuses[f"speech {response.status_code}"] += 1

    async def transcribe(client: httpx.AsyncClient) -> None:
        while time.monotonic() < stop:
            response = await client.post("/v1/audio/transcriptions",
                                         data={"model": "step-audio-asr"},
                                         files={"file": ("jfk.flac", JFK)})  # fmt: skip
            statuses[f"transcription {response.status_code}"] += 1

    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        await asyncio.gather(speak(client), transcribe(client))


def figures(base: str) -> dict[str, float]:
    text = httpx.get(f"{base}/metrics", timeout=10).text
    out = {}
    for line in text.splitlines():
        if line.startswith("stepaudio_server_"):
            name, value = line.rsplit(" ", 1)
            out[name.removeprefix("stepaudio_server_")] = float(value)
    return out


async def sample(server: psutil.Process, seconds: float, rss: list[tuple[float, float]]) -> None:
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        rss.append((elapsed, server.memory_info().rss / 2**20))
        await asyncio.sleep(SAMPLE_EVERY)
    rss.append((time.monotonic() - started, server.memory_info().rss / 2**20))


async def soak(base: str, server: psutil.Process, args: argparse.Namespace) -> None:
    utterances = make_utterances(base)
    statuses: Counter[str] = Counter()
    rss: list[tuple[float, float]] = []
    talks: list[Talk] = await asyncio.gather(
        *(
            talk(base, i, utterances, args.seconds, 2.0 * i / args.sessions)
            for i in range(args.sessions)
        ),
        http_load(base, args.seconds, statuses),
        sample(server, args.seconds + 5, rss),
    )  # type: ignore[assignment]
    talks = [t for t in talks if isinstance(t, Talk)]
    await asyncio.sleep(3)  # the last records written, the sessions' tasks gone
    end = figures(base)

    print(f"soak: {args.sessions} realtime sessions talking + speech and transcription "
          f"clients, {args.seconds:.0f} s")  # fmt: skip
    print("resident memory (MB) every 30 s: " + " ".join(f"{mb:.0f}" for _t, mb in rss))
    steady = [mb for t, mb in rss if t >= 60] or [mb for _t, mb in rss]
    third = max(1, len(steady) // 3)
    early, late = statistics.mean(steady[:third]), statistics.mean(steady[-third:])
    drift = (late - early) / early
    print(f"  from the second minute: min {min(steady):.0f}, max {max(steady):.0f}; mean of the "
          f"first third {early:.0f}, of the last third {late:.0f}: change {drift:+.1%} "
          f"({'flat' if abs(drift) <= 0.05 else 'NOT flat'} within 5%)")  # fmt: skip
    turns = sum(t.turns for t in talks)
    answers = [a for t in talks for a in t.answers]
    refused = Counter(t.refused for t in talks if t.refused)
    in_time = sum(1 for a in answers if a <= IN_TIME)
    print(f"  turns {turns}: answered {len(answers)} ({len(answers) / max(turns, 1):.1%}), "
          f"within {IN_TIME} s {in_time}, median "
          f"{statistics.median(answers) * 1000 if answers else float('nan'):.0f} ms; "
          f"sessions refused: {dict(refused) or 'none'}; error events "
          f"{sum(len(t.errors) for t in talks)}")  # fmt: skip
    print(f"  HTTP answers: {dict(statuses)}")
    print(f"  at the end, every client gone: open files {server.num_fds()}, threads "
          f"{server.num_threads()}, asyncio tasks {end.get('asyncio_tasks', float('nan')):.0f},"
          f" database connections open {end.get('database_connections_open', 0):.0f} "
          f"(checked out {end.get('database_connections_checked_out', 0):.0f}), realtime "
          f"sessions {end.get('realtime_sessions', 0):.0f}, pending writes "
          f"{end.get('background_writes', 0):.0f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    with ChatStandIn() as upstream:
        upstream.default = Reply(content=["Okay,", " that", " is", " fine."])
        env = {"STEPAUDIO_CHAT_BASE_URL": upstream.base_url, "STEPAUDIO_CHAT_MODEL": "soak",
               # every session is the same (anonymous) caller here
               "STEPAUDIO_REALTIME__MAX_SESSIONS_PER_KEY": str(args.sessions)}  # fmt: skip
        if args.database_url:
            env["STEPAUDIO_DATABASE_URL"] = args.database_url
        process, base = start_server(env)
        try:
            asyncio.run(soak(base, psutil.Process(process.pid), args))
        finally:
            stop_server(process)


if __name__ == "__main__":
    main()
