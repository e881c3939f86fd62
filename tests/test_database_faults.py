"""PostgreSQL restarted in the middle of a burst of requests: those that needed the database
while it was away fail with a clear 503 (database_unavailable, Retry-After), never a 500;
the server recovers by itself; and every request answered has exactly one usage record,
finished (written later, if the database was away when the answer ended), none left
reserved and none counted twice."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator

import asyncpg
import httpx
import pytest
from conftest import ServerProcess
from postgres_instance import PostgresInstance

BURST_SECONDS = 12.0
RESTART_AFTER = 3.0
CLIENTS = 6


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresInstance]:
    instance = PostgresInstance()
    yield instance
    instance.close()


@pytest.fixture(scope="module")
def on_postgres(postgres: PostgresInstance,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:  # fmt: skip
    server = ServerProcess(tmp_path_factory.mktemp("pg-faults"), postgres.url)
    yield server
    server.stop()


def records(postgres: PostgresInstance) -> dict[str, str]:
    async def read() -> dict[str, str]:
        connection = await asyncpg.connect(host="127.0.0.1", port=postgres.port,
                                           user="stepaudio", database="stepaudio")  # fmt: skip
        try:
            rows = await connection.fetch("SELECT request_id, status FROM usage_records")
        finally:
            await connection.close()
        ids = [r["request_id"] for r in rows]
        assert len(ids) == len(set(ids)), "a request was recorded twice"
        return {r["request_id"]: r["status"] for r in rows}

    return asyncio.run(read())


def test_a_restart_mid_burst_loses_and_doubles_nothing(
    on_postgres: ServerProcess, postgres: PostgresInstance
) -> None:
    answers: list[tuple[int, str, str | None]] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + BURST_SECONDS
    body = {"model": "tts-1", "voice": "alloy", "input": "Hello there, this is a test.",
            "response_format": "pcm"}  # fmt: skip

    def client() -> None:
        with httpx.Client(base_url=on_postgres.base_url, timeout=60) as http:
            while time.monotonic() < stop_at:
                response = http.post("/v1/audio/speech", json=body)
                code = None if response.status_code == 200 else response.json()["error"]["code"]
                if response.status_code == 200:
                    assert len(response.content) > 24000  # a whole answer: a second of audio
                with lock:
                    answers.append((response.status_code, response.headers["x-request-id"],
                                    code))  # fmt: skip

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    time.sleep(RESTART_AFTER)
    postgres.restart()
    for thread in threads:
        thread.join()

    statuses = Counter(status for status, _id, _code in answers)
    assert set(statuses) <= {200, 503}, statuses
    refused = [code for status, _id, code in answers if status == 503]
    assert set(refused) <= {"database_unavailable"}, refused
    assert statuses[200] > 10, statuses
    # the server recovered by itself: a request now is answered
    assert httpx.post(f"{on_postgres.base_url}/v1/audio/speech", json=body,
                      timeout=60).status_code == 200  # fmt: skip
    # every answer's record is finished (those written late too), once
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        stored = records(postgres)
        if "reserved" not in stored.values():
            break
        time.sleep(0.5)
    assert "reserved" not in stored.values(), Counter(stored.values())
    for status, request_id, _code in answers:
        if status == 200:
            assert stored.get(request_id) == "completed", (request_id, stored.get(request_id))
        else:
            assert stored.get(request_id) in (None, "failed"), stored.get(request_id)
    assert Counter(stored.values())["completed"] == statuses[200] + 1  # and the one after
