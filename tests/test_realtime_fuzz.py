"""A Hypothesis fuzzer of realtime client events: random JSON, valid events mutated (a field
dropped, retyped or added, the type changed), random audio. Whatever a session is sent, it
answers every event or ignores it as OpenAI would, never fails a task silently, and then still
answers a normal turn."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from chat_stand_in import ChatStandIn, Reply
from conftest import ServerProcess
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from realtime_helpers import recv, send, sessions_closed, user_text
from websockets.sync.client import ClientConnection, connect

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8),
                                                                       children, max_size=4),
    max_leaves=12,
)  # fmt: skip


def pcm(data: bytes) -> str:
    return base64.b64encode(data[: len(data) // 2 * 2]).decode()


TEMPLATES: list[dict[str, Any]] = [
    {"type": "session.update", "session": {"type": "realtime", "instructions": "Be brief.",
     "output_modalities": ["text"], "audio": {"input": {"turn_detection": {
         "type": "server_vad", "silence_duration_ms": 300}}}}},
    {"type": "session.update", "session": {"modalities": ["text", "audio"], "voice": "alloy",
     "input_audio_format": "g711_ulaw", "turn_detection": {"type": "semantic_vad"}}},
    {"type": "transcription_session.update", "session": {"input_audio_transcription": {
        "model": "step-audio-asr"}}},
    {"type": "input_audio_buffer.append", "audio": pcm(b"\x10\x00" * 800)},
    {"type": "input_audio_buffer.commit"},
    {"type": "input_audio_buffer.clear"},
    {"type": "conversation.item.create", "item": user_text("Hello there")},
    {"type": "conversation.item.create", "previous_item_id": "root", "item": {
        "type": "function_call_output", "call_id": "call_1", "output": "{}"}},
    {"type": "conversation.item.retrieve", "item_id": "item_x"},
    {"type": "conversation.item.delete", "item_id": "item_x"},
    {"type": "conversation.item.truncate", "item_id": "item_x", "content_index": 0,
     "audio_end_ms": 100},
    {"type": "response.create", "response": {"output_modalities": ["text"],
                                             "instructions": "Say okay."}},
    {"type": "response.cancel"},
]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any] | str:
    event = json.loads(json.dumps(draw(st.sampled_from(TEMPLATES))))
    target = event
    while isinstance(target, dict) and draw(st.booleans()):  # go down a level, or not
        nested = [k for k, v in target.items() if isinstance(v, dict)]
        if not nested:
            break
        target = target[draw(st.sampled_from(nested))]
    how = draw(st.sampled_from(["keep", "drop", "retype", "add", "rename", "raw"]))
    keys = list(target)
    if how == "drop" and keys:
        target.pop(draw(st.sampled_from(keys)))
    elif how == "retype" and keys:
        target[draw(st.sampled_from(keys))] = draw(JSON)
    elif how == "add":
        target[draw(st.text(min_size=1, max_size=12))] = draw(JSON)
    elif how == "rename":
        event["type"] = draw(st.sampled_from([t["type"] for t in TEMPLATES]) | st.text(max_size=30))
    elif how == "raw":
        return draw(st.text(max_size=60) | JSON.map(json.dumps))
    return event


EVENTS = st.lists(
    mutated() | st.binary(max_size=4000).map(
        lambda data: {"type": "input_audio_buffer.append", "audio": pcm(data)}),
    min_size=1, max_size=12,
)  # fmt: skip


@pytest.fixture
def fuzzed(chat_server: ServerProcess, upstream: ChatStandIn) -> Iterator[ServerProcess]:
    upstream.default = Reply(content=["Okay."])
    yield chat_server
    upstream.default = None


def socket(server: ServerProcess) -> ClientConnection:
    url = server.base_url.replace("http://", "ws://") + "/v1/realtime?model=gpt-realtime"
    return connect(url, additional_headers={"Authorization": "Bearer sk-test"}, max_size=None,
                   open_timeout=10)  # fmt: skip


def answers_a_normal_turn(ws: ClientConnection) -> None:
    """Whatever was sent before, a client that says what it wants gets its answer."""
    reset = {"type": "realtime", "output_modalities": ["text"],
             "audio": {"input": {"turn_detection": None}}}  # fmt: skip
    send(ws, {"type": "session.update", "session": reset})
    send(ws, {"type": "conversation.item.create", "item": user_text("Are you there?")})
    deadline, asked = time.monotonic() + 60, False
    while time.monotonic() < deadline:
        if not asked:
            send(ws, {"type": "response.create", "event_id": "normal_turn"})
            asked = True
        event = recv(ws, timeout=30)
        error = event.get("error") or {}
        if event["type"] == "error" and error.get("event_id") == "normal_turn":
            # a fuzzed response still runs: wait for it to end, then ask again
            assert error["code"] == "conversation_already_has_active_response", event
            asked = False
            while recv(ws, timeout=30)["type"] != "response.done":
                pass
        elif event["type"] == "response.done" and event["response"]["status"] == "completed":
            if (
                event["response"]["output"]
                and event["response"]["output"][0]["content"][0].get("text") == "Okay."
            ):
                return
    raise AssertionError("the session did not answer a normal turn")


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))  # fmt: skip
@given(events=EVENTS)
def test_fuzzed_events_never_break_a_session(fuzzed: ServerProcess, events: list[Any]) -> None:
    with socket(fuzzed) as ws:
        assert recv(ws)["type"] == "session.created"
        for event in events:
            ws.send(event if isinstance(event, str) else json.dumps(event))
        answers_a_normal_turn(ws)
    sessions_closed(fuzzed)  # a key may hold four: the next example's is not refused


def test_no_task_failed_unseen(fuzzed: ServerProcess) -> None:
    """After the fuzzing (this runs after it), the server's log shows no task that failed with
    nobody to hear of it, and no unhandled error."""
    log = fuzzed.log_path.read_text(errors="replace")
    assert "Task exception was never retrieved" not in log
    assert "unhandled error" not in log
