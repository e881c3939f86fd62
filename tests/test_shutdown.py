"""SIGTERM drains the server within server.shutdown_grace_seconds: a speech stream in flight
is sent to its end, a realtime session is told (an error event), finishes the response it was
making and is closed with 1012; no new connection is taken; both are recorded as completed."""

from __future__ import annotations

import json
import signal
import threading
import time

import httpx
import pytest
from chat_stand_in import ChatStandIn, Reply
from conftest import ServerProcess
from databases import run_sync
from realtime_helpers import deltas, recv, send, user_text
from sqlalchemy import text
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

GRACE = 8
LONG = " ".join(["The quick brown fox jumps over the lazy dog."] * 6)


def test_sigterm_drains_streams_and_sessions(tmp_path_factory: pytest.TempPathFactory) -> None:
    with ChatStandIn() as upstream:
        upstream.plan(Reply(content=[f" word{i}." for i in range(12)], chunk_delay=0.25))
        tmp = tmp_path_factory.mktemp("shutdown")
        env = {"STEPAUDIO_CHAT_BASE_URL": upstream.base_url, "STEPAUDIO_CHAT_MODEL": "brain",
               "STEPAUDIO_SERVER__SHUTDOWN_GRACE_SECONDS": str(GRACE)}  # fmt: skip
        url = f"sqlite+aiosqlite:///{tmp}/shutdown.db"
        server = ServerProcess(tmp, url, env=env)
        ws_url = server.base_url.replace("http://", "ws://") + "/v1/realtime?model=gpt-realtime"
        ws = connect(ws_url, max_size=None, open_timeout=10)
        assert recv(ws)["type"] == "session.created"
        send(ws, {"type": "session.update",
                  "session": {"type": "realtime", "output_modalities": ["text"]}})  # fmt: skip
        send(ws, {"type": "conversation.item.create", "item": user_text("Count slowly.")})
        send(ws, {"type": "response.create"})
        while recv(ws)["type"] != "response.output_text.delta":
            pass

        streamed: dict[str, object] = {}

        def speak() -> None:
            body = {"model": "tts-1", "voice": "alloy", "input": LONG, "response_format": "pcm"}
            with httpx.stream("POST", f"{server.base_url}/v1/audio/speech", json=body,
                              timeout=60) as response:  # fmt: skip
                chunks = response.iter_bytes()
                first = next(chunks)
                streamed["started"] = True
                streamed["bytes"] = len(first) + sum(len(c) for c in chunks)
                streamed["status"] = response.status_code
                streamed["id"] = response.headers["x-request-id"]

        speaker = threading.Thread(target=speak)
        speaker.start()
        while "started" not in streamed:
            time.sleep(0.02)
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)

        events, closed = [], None
        try:
            while True:
                events.append(json.loads(ws.recv(timeout=GRACE + 5)))
        except ConnectionClosed as exc:
            closed = exc
        speaker.join(timeout=GRACE + 10)
        server.process.wait(timeout=GRACE + 10)
        exited = time.monotonic() - signalled
        server.stop()

    kinds = [e["type"] for e in events]
    warning = next(e for e in events if e["type"] == "error")
    assert warning["error"]["code"] == "server_shutting_down", warning
    done = next(e for e in events if e["type"] == "response.done")
    assert done["response"]["status"] == "completed", done  # the response was let finish
    assert kinds.index("error") < kinds.index("response.done")
    assert deltas(events, "response.output_text.delta").count("word") >= 10
    assert closed is not None and closed.rcvd is not None and closed.rcvd.code == 1012
    # the speech stream ran to its end: about 14 s of audio, whole
    assert streamed.get("status") == 200 and int(streamed["bytes"]) > 24000 * 2 * 8, streamed
    assert exited < GRACE + 5, exited
    with pytest.raises(httpx.TransportError):  # gone: no new connections
        httpx.get(f"{server.base_url}/health", timeout=1)
    statuses = run_sync(url, lambda c: dict(c.execute(
        text("SELECT capability, status FROM usage_records")).all()))  # fmt: skip
    assert statuses == {"speech": "completed", "realtime": "completed"}, statuses
