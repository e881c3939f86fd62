"""Streams that fail after their status line has gone (the engines made to raise mid-way, by
tests/faults.py): an event stream ends with an error event the SDK raises, an audio file ends
cleanly (its chunked body is complete); the client never sees a cut connection or the
exception's own text, and the request is recorded as failed."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from chat_stand_in import ChatStandIn, Reply, word_pieces
from databases import run_sync
from faults import SECRET, Faults
from in_process import chat_server_in_process
from sqlalchemy import text

LONG = "The first sentence is short. " + "The second one goes on for a good while longer. " * 3


@pytest.fixture(scope="module")
def stand_in(upstream_session: ChatStandIn) -> ChatStandIn:
    return upstream_session


@pytest.fixture(scope="module")
def served(stand_in: ChatStandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chat_server_in_process(tmp_path_factory.mktemp("stream-faults"), stand_in) as server:
        yield server, Faults(server.services)


@pytest.fixture
def faults(served: Any) -> Iterator[Faults]:
    yield served[1]
    served[1].stage = None


def sdk(server: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="sk-test", max_retries=0)


def recorded_status(server: Any, response: httpx.Response) -> str:
    """The status of the request's usage record (its id is the x-request-id header)."""
    query = text("SELECT status FROM usage_records WHERE request_id = :id")
    request_id = response.headers["x-request-id"]
    deadline = time.monotonic() + 5
    while True:  # finished in the background once the stream has ended
        status = run_sync(server.services.database.url,
                          lambda c: c.execute(query, {"id": request_id}).scalar())  # fmt: skip
        if status != "reserved" or time.monotonic() > deadline:
            return str(status)
        time.sleep(0.05)


def test_speech_events_end_with_an_error_event(served: Any, faults: Faults) -> None:
    server, _ = served
    faults.stage = "synthesize-mid"
    body = {"model": "tts-1", "voice": "alloy", "input": LONG, "stream_format": "sse"}
    response = httpx.post(f"{server.base_url}/v1/audio/speech", json=body, timeout=60)
    assert response.status_code == 200
    events = [line for line in response.text.splitlines() if line.startswith("data: ")]
    assert '"type":"speech.audio.delta"' in events[0], events[:1]
    assert '"type":"error"' in events[-1] and '"code":"server_error"' in events[-1], events[-1]
    assert SECRET not in response.text
    assert recorded_status(server, response) == "failed"


def test_an_audio_file_cut_short_ends_cleanly(served: Any, faults: Faults) -> None:
    server, _ = served
    faults.stage = "synthesize-mid"
    with httpx.stream("POST", f"{server.base_url}/v1/audio/speech", json={
        "model": "tts-1", "voice": "alloy", "input": LONG, "response_format": "pcm"},
    ) as response:  # fmt: skip
        assert response.status_code == 200
        data = response.read()  # a cut connection would raise here (RemoteProtocolError)
    assert 0 < len(data) and SECRET.encode() not in data
    assert recorded_status(server, response) == "failed"


def test_transcription_events_end_with_an_error_event(served: Any, faults: Faults) -> None:
    server, _ = served
    audio = (Path(__file__).parent / "data" / "en_jfk.flac").read_bytes()
    faults.stage = "recognize-mid"
    response = httpx.post(f"{server.base_url}/v1/audio/transcriptions",
                          data={"model": "step-audio-asr", "stream": "true"},
                          files={"file": ("jfk.flac", io.BytesIO(audio))}, timeout=60)  # fmt: skip
    assert response.status_code == 200
    events = [line for line in response.text.splitlines() if line.startswith("data: ")]
    assert '"transcript.text.delta"' in events[0]
    assert '"type":"error"' in events[-1] and SECRET not in response.text, events[-1]
    assert recorded_status(server, response) == "failed"
    # the SDK raises the stream's error event as an APIError
    stream = sdk(server).audio.transcriptions.create(
        model="step-audio-asr", file=("jfk.flac", audio), stream=True
    )
    with pytest.raises(openai.APIError) as raised:
        for _event in stream:
            pass
    assert "server had an error" in str(raised.value) and SECRET not in str(raised.value)


def test_a_spoken_chat_stream_ends_with_an_error_and_done(
    served: Any, faults: Faults, stand_in: ChatStandIn
) -> None:
    server, _ = served
    stand_in.plan(Reply(content=word_pieces(LONG)))
    faults.stage = "synthesize-mid"
    response = httpx.post(f"{server.base_url}/v1/chat/completions", json={
        "model": "gpt-4o-audio-preview", "modalities": ["text", "audio"], "stream": True,
        "audio": {"voice": "alloy", "format": "pcm16"},
        "messages": [{"role": "user", "content": "Say something long."}]}, timeout=60)  # fmt: skip
    assert response.status_code == 200
    events = [line for line in response.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]" and '"error"' in events[-2], events[-3:]
    assert SECRET not in response.text
    assert recorded_status(server, response) == "failed"
