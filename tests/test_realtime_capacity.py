"""The realtime capacity model: the server refuses, before a session starts, a conversation it
cannot answer (at its session limit, or while its recent turns are answered too slowly), with
an error event and close 1013; and it measures every turn's answer time."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from typing import Any

import pytest
from chat_stand_in import ChatStandIn, Reply, word_pieces
from in_process import chat_server_in_process, ws_url
from realtime_helpers import send, send_pcm, speech_pcm, until
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from stepaudio_api.serving.realtime import capacity as capacity_module
from stepaudio_api.serving.realtime.capacity import RealtimeCapacity, ServerAtCapacity
from stepaudio_api.settings import RealtimeSettings
from stepaudio_api.testing import TestServer


def test_the_limit_is_per_core_unless_set() -> None:
    assert RealtimeCapacity(RealtimeSettings(sessions_per_core=8), cores=2).limit == 16
    assert RealtimeCapacity(RealtimeSettings(sessions_per_core=2.5), cores=3).limit == 7
    assert RealtimeCapacity(RealtimeSettings(max_sessions=3), cores=64).limit == 3


def test_a_server_behind_sheds_new_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(capacity_module.time, "monotonic", lambda: now[0])
    capacity = RealtimeCapacity(RealtimeSettings(answer_within_seconds=1.5), cores=2)
    capacity.open = 3
    for _ in range(9):
        capacity.answered(4.0)  # turns that waited 4 s for an answer that never began
    capacity.check()  # too few turns to judge
    for _ in range(11):
        capacity.answered(0.4)
    with pytest.raises(ServerAtCapacity) as refused:  # 9 of 20 waited too long
        capacity.check()
    assert "4.0 s" in refused.value.message and refused.value.status == 503
    capacity.open = 0
    capacity.check()  # a lone conversation is never refused for slowness
    capacity.open = 3
    now[0] += capacity_module.WINDOW_SECONDS + 1  # the window has moved on
    for _ in range(12):
        capacity.answered(0.5)
    capacity.check()
    assert capacity.describe()["answer_p95_seconds"] == 0.5
    shedding_off = RealtimeCapacity(RealtimeSettings(shed_load=False), cores=2)
    shedding_off.open = 3
    for _ in range(20):
        shedding_off.answered(9.0)
    shedding_off.check()


@pytest.fixture(scope="module")
def stand_in(upstream_session: ChatStandIn) -> ChatStandIn:
    return upstream_session


@pytest.fixture(scope="module")
def limited(stand_in: ChatStandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    folder = tmp_path_factory.mktemp("capacity")
    with chat_server_in_process(folder, stand_in, STEPAUDIO_REALTIME__MAX_SESSIONS="2") as server:
        yield server


def open_session(server: TestServer) -> ClientConnection:
    return connect(ws_url(server), max_size=None, open_timeout=10)


def test_a_session_beyond_the_limit_is_refused_before_it_starts(limited: TestServer) -> None:
    with open_session(limited) as first, open_session(limited) as second:
        for ws in (first, second):
            assert json.loads(ws.recv(timeout=10))["type"] == "session.created"
        with open_session(limited) as third:
            refused = json.loads(third.recv(timeout=10))
            assert refused["type"] == "error", refused
            error = refused["error"]
            assert (error["type"], error["code"]) == ("server_error", "server_at_capacity")
            assert "at most 2" in error["message"]
            with pytest.raises(ConnectionClosed) as closed:
                third.recv(timeout=5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
        ready = limited.get("/ready").json()["realtime"]
        assert ready["sessions"] == 2 and ready["max_sessions"] == 2
    # room again once they have gone (a socket's close reaches the server a moment after)
    deadline = time.monotonic() + 5
    while limited.services.realtime.parts.capacity.open and time.monotonic() < deadline:
        time.sleep(0.05)
    with open_session(limited) as again:
        assert json.loads(again.recv(timeout=10))["type"] == "session.created"


def test_every_turn_s_answer_time_is_measured(limited: TestServer, stand_in: ChatStandIn) -> None:
    capacity = limited.services.realtime.parts.capacity
    before = len(capacity._turns)
    stand_in.plan(*[Reply(content=word_pieces("It is sunny today."))] * 2)  # and a speculation
    pcm = speech_pcm(limited, "What is the weather like in Paris today?")  # type: ignore[arg-type]
    with open_session(limited) as ws:
        json.loads(ws.recv(timeout=10))
        send_pcm(ws, pcm)
        until(ws, "response.done", limit=60)
        send(ws, {"type": "input_audio_buffer.clear"})
        until(ws, "input_audio_buffer.cleared")
    measured = [seconds for _when, seconds in list(capacity._turns)[before:]]
    assert len(measured) == 1 and math.isfinite(measured[0]) and 0 <= measured[0] < 1.5, measured
