"""A server killed (SIGKILL) in the middle of a burst loses no usage record and doubles none."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from conftest import ServerProcess
from keys import admin_get, create_key

TEXT = "The burst goes on. Every answer is metered once. Nothing is lost, nothing doubled."


@pytest.mark.slow
def test_every_request_that_got_a_200_has_exactly_one_record(
    tmp_path: Path, database_url: str
) -> None:
    server = ServerProcess(tmp_path, database_url)
    try:
        seen: list[tuple[str, bool]] = []  # (request id, whole body received) for each 200
        lock = threading.Lock()
        stop = threading.Event()

        def burst() -> None:
            with httpx.Client(base_url=server.base_url, timeout=30) as http:
                while not stop.is_set():
                    request_id, whole = None, False
                    try:
                        with http.stream("POST", "/v1/audio/speech", json={
                            "model": "tts-1", "voice": "alloy", "input": TEXT,
                            "response_format": "pcm",
                        }) as response:  # fmt: skip
                            if response.status_code == 200:
                                request_id = response.headers["x-request-id"]
                                body = b"".join(response.iter_bytes())
                                whole = len(body) > 24000  # over half a second of audio
                    except httpx.TransportError:
                        pass
                    if request_id is not None:
                        with lock:
                            seen.append((request_id, whole))

        threads = [threading.Thread(target=burst) for _ in range(8)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with lock:
                if sum(whole for _, whole in seen) >= 12:
                    break
            time.sleep(0.05)
        server.kill()
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

        server.start()
        key = create_key(server, "auditor", "--admin")
        records: list[dict[str, object]] = []
        after = None
        while True:
            params = {"limit": 1000, **({"after": after} if after else {})}
            page = admin_get(server, key, "/admin/usage/records", **params)
            records += page["data"]
            if not page["has_more"]:
                break
            after = page["last_id"]
    finally:
        server.stop()

    completed = [request_id for request_id, whole in seen if whole]
    assert len(completed) >= 12
    by_request: dict[object, list[dict[str, object]]] = {}
    for record in records:
        by_request.setdefault(record["request_id"], []).append(record)
    for request_id, whole in seen:
        assert len(by_request.get(request_id, [])) == 1, request_id
        (record,) = by_request[request_id]
        assert record["input_characters"] == len(TEXT)
        if whole:
            assert record["status"] == "completed"
            assert float(record["audio_seconds_out"]) > 1.0  # type: ignore[arg-type]
    if database_url.startswith("sqlite"):
        # one process per SQLite file: whatever the killed one left open is marked on restart
        assert not [r for r in records if r["status"] == "reserved"]
