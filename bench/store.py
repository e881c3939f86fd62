"""Benchmark: what auth and usage metering cost, on SQLite and on PostgreSQL.

Run: python bench/store.py [--requests N]
For each database (PostgreSQL where STEPAUDIO_TEST_POSTGRES_URL is set or the local test server
answers, see tests/databases.py): GET /v1/models on a server without auth and on one with auth
required, alternated in one run; the median latency of each and their difference (the cost of
checking the key), and requests per second. Then the metering itself: a short metered speech
request's median latency, and the usage ledger's admit + finish alone (what metering adds).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from servers import start_server, stop_server

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from databases import (  # noqa: E402
    available_backends,
    drop_databases,
    fresh_database_url,
    open_backend,
)

from stepaudio_api.store.api_keys import ApiKeyStore  # noqa: E402
from stepaudio_api.store.database import Database  # noqa: E402
from stepaudio_api.store.migrate import upgrade_database  # noqa: E402
from stepaudio_api.store.usage import Measured, UsageLedger  # noqa: E402


def timed_get(http: httpx.Client, path: str) -> float:
    started = time.perf_counter()
    response = http.get(path)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    return elapsed


def throughput(http: httpx.Client, path: str, seconds: float = 2.0) -> float:
    count, deadline = 0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        http.get(path)
        count += 1
    return count / seconds


async def ledger_round_trips(url: str, repeat: int) -> float:
    """Median seconds of one admit + finish, the two writes metering adds to a request."""
    database = Database(url)
    keys, ledger = ApiKeyStore(database), UsageLedger(database)
    key = (await keys.create("bench", quota_characters=10**12)).key
    times = []
    for _ in range(repeat):
        request_id = "req_" + secrets.token_hex(16)
        started = time.perf_counter()
        await ledger.admit(request_id, key.id, "step-audio-tts", "speech", characters=20)
        await ledger.finish(request_id, "completed", Measured(20, 0, 1.0), 1.0, refund=False)
        times.append(time.perf_counter() - started)
    await database.dispose()
    return statistics.median(times)


def bench_backend(name: str, url_for: Callable[[], str], requests: int) -> None:
    plain, plain_base = start_server({"STEPAUDIO_DATABASE_URL": url_for()})
    auth_url = url_for()
    guarded, guarded_base = start_server(
        {"STEPAUDIO_DATABASE_URL": auth_url, "STEPAUDIO_AUTH_REQUIRED": "true"}
    )
    try:
        secret = asyncio.run(_make_key(auth_url))
        headers = {"Authorization": f"Bearer {secret}"}
        with httpx.Client(base_url=plain_base) as open_http, \
                httpx.Client(base_url=guarded_base, headers=headers) as auth_http:  # fmt: skip
            for http in (open_http, auth_http):
                for _ in range(200):
                    timed_get(http, "/v1/models")
            without, with_auth = [], []
            for _ in range(requests):
                without.append(timed_get(open_http, "/v1/models"))
                with_auth.append(timed_get(auth_http, "/v1/models"))
            rps_open = throughput(open_http, "/v1/models")
            rps_auth = throughput(auth_http, "/v1/models")
            speech = []
            body = {"model": "tts-1", "voice": "alloy", "input": "Hi.", "response_format": "pcm"}
            for _ in range(30):
                started = time.perf_counter()
                assert auth_http.post("/v1/audio/speech", json=body).status_code == 200
                speech.append(time.perf_counter() - started)
    finally:
        stop_server(plain)
        stop_server(guarded)
    ledger_url = url_for()
    upgrade_database(ledger_url)
    ledger = asyncio.run(ledger_round_trips(ledger_url, 200))
    m_without, m_with = statistics.median(without), statistics.median(with_auth)
    print(f"[{name}] GET /v1/models median: no auth {m_without * 1000:.3f} ms, "
          f"auth {m_with * 1000:.3f} ms, auth adds {(m_with - m_without) * 1000:+.3f} ms "
          f"(ratio {m_with / m_without:.2f}x)")  # fmt: skip
    print(f"[{name}] GET /v1/models, one client: {rps_open:.0f} req/s without auth, "
          f"{rps_auth:.0f} req/s with auth")  # fmt: skip
    print(f"[{name}] metered speech of 'Hi.' (pcm, auth + quota + record): median "
          f"{statistics.median(speech) * 1000:.1f} ms; the ledger's admit + finish alone: "
          f"{ledger * 1000:.2f} ms")  # fmt: skip


async def _make_key(url: str) -> str:
    database = Database(url)
    try:
        return (await ApiKeyStore(database).create("bench-user")).secret
    finally:
        await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    for name in available_backends():
        backend = open_backend(name, Path(tempfile.mkdtemp()))
        try:
            bench_backend(name, functools.partial(fresh_database_url, backend), args.requests)
        finally:
            drop_databases(backend)


if __name__ == "__main__":
    main()
