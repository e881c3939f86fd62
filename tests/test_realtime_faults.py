"""A realtime session whose engines fail at every stage: the recogniser (at its start and in
its segments, with and without speculation), the synthesiser (before and after its first
audio) and the chat model (before and after its first words). Each failure reaches the client
as OpenAI says it (transcription.failed, or response.done failed), never
as the exception's own text, and the same session then answers a normal turn."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from chat_stand_in import ChatStandIn, Reply, word_pieces
from faults import SECRET, Faults
from in_process import chat_server_in_process, ws_url
from realtime_helpers import deltas, send, send_pcm, silence, until, user_text
from websockets.sync.client import ClientConnection, connect

from stepaudio_api.testing import TestServer

QUESTION = "What is the weather like in Paris today?"


@pytest.fixture(scope="module")
def stand_in(upstream_session: ChatStandIn) -> ChatStandIn:
    return upstream_session


@pytest.fixture(scope="module")
def served(stand_in: ChatStandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chat_server_in_process(tmp_path_factory.mktemp("faults"), stand_in) as server:
        yield server, Faults(server.services)


def open_session(server: TestServer, speculate_after_ms: int) -> ClientConnection:
    ws = connect(ws_url(server), max_size=None, open_timeout=10)
    assert json.loads(ws.recv(timeout=10))["type"] == "session.created"
    detection = {"type": "server_vad", "silence_duration_ms": 500,
                 "speculate_after_ms": speculate_after_ms}  # fmt: skip
    send(ws, {"type": "session.update", "session": {"type": "realtime", "audio": {"input": {
        "turn_detection": detection, "transcription": {"model": "step-audio-asr"}}}}})  # fmt: skip
    until(ws, "session.updated")
    return ws


def leaked(events: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(e) for e in events if SECRET in json.dumps(e)]


def answers_normally(ws: ClientConnection, upstream: ChatStandIn) -> None:
    upstream.replies.clear()  # a reply the failed response never asked for
    upstream.plan(Reply(content=word_pieces("All is well.")))
    send(ws, {"type": "conversation.item.create", "item": user_text("Are you still there?")})
    send(ws, {"type": "response.create"})
    events = until(ws, "response.done", limit=60)
    assert events[-1]["response"]["status"] == "completed", events[-1]
    assert deltas(events, "response.output_audio_transcript.delta") == "All is well."


@pytest.mark.parametrize("speculate_after_ms", [160, 0], ids=["speculating", "not-speculating"])
@pytest.mark.parametrize("stage", ["recognize", "recognize-segments"])
def test_a_failing_recogniser_is_reported_and_the_session_goes_on(
    served: Any, stand_in: ChatStandIn, stage: str, speculate_after_ms: int
) -> None:
    server, faults = served
    body = {"model": "tts-1", "voice": "alloy", "input": QUESTION, "response_format": "pcm"}
    pcm = silence(300) + server.post("/v1/audio/speech", json=body).content + silence(1500)
    with open_session(server, speculate_after_ms) as ws:
        faults.stage = stage
        try:
            send_pcm(ws, pcm)
            events = until(ws, "conversation.item.input_audio_transcription.failed", limit=60)
        finally:
            faults.stage = None
        failed = events[-1]["error"]
        assert failed["type"] == "server_error" and failed["code"] == "transcription_failed"
        assert failed["message"] and not leaked(events), leaked(events)
        # nothing was heard, so nothing is answered: no response for that turn
        assert "response.created" not in [e["type"] for e in events]
        answers_normally(ws, stand_in)


@pytest.mark.parametrize("stage", ["synthesize", "synthesize-mid", "chat", "chat-mid"])
def test_a_failing_response_ends_failed_and_the_session_goes_on(
    served: Any, stand_in: ChatStandIn, stage: str
) -> None:
    server, faults = served
    stand_in.plan(Reply(content=word_pieces("It is sunny. It is warm and bright today.")))
    with open_session(server, 160) as ws:
        send(ws, {"type": "conversation.item.create", "item": user_text(QUESTION)})
        until(ws, "conversation.item.done")
        faults.stage = stage
        try:
            send(ws, {"type": "response.create"})
            events = until(ws, "response.done", limit=60)
        finally:
            faults.stage = None
        kinds = [e["type"] for e in events]
        # said in response.done alone, as OpenAI does: an error event would end the session
        # for clients that take every error as fatal (pipecat's)
        assert kinds[0] == "response.created" and "error" not in kinds, kinds
        response = events[-1]["response"]
        assert response["status"] == "failed", response
        error = response["status_details"]["error"]
        assert (error["type"], error["code"]) == ("server_error", "server_error"), error
        assert error["message"] and not leaked(events), leaked(events)
        for item in response["output"]:
            assert item["status"] == "incomplete", item
        answers_normally(ws, stand_in)


def test_no_session_is_left_behind(served: Any) -> None:
    """Every session above has ended on the server too (its socket's close reaches the
    server a moment after the client's)."""
    server, _faults = served
    deadline = time.monotonic() + 5
    while server.services.realtime.sessions and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not server.services.realtime.sessions
    assert sum(server.services.realtime.open_sessions.values()) == 0
