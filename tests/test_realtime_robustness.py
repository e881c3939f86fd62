"""/v1/realtime under stress and at its edges: malformed and oversized client events, the exact
events of a text turn (GA and beta) against OpenAI's published shapes, auth at the handshake,
the per-key session limit, and a client that vanishes mid-response.

Raw protocol checks use the `websockets` library directly; the openai SDK's realtime client is
used where a client would naturally use it."""

from __future__ import annotations

import base64
import contextlib
import socket
import time
from typing import Any

import httpx
import openai
import pytest
from chat_stand_in import ChatStandIn, Reply
from conftest import ServerProcess
from keys import create_key
from realtime_helpers import audio_bytes, deltas, recv, send, until, user_text
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

BETA_SUBPROTOCOL = "openai-beta.realtime-v1"
KEY_SUBPROTOCOL = "openai-insecure-api-key."
MAX_EVENT_BYTES = 21 * 1024 * 1024
"""realtime.max_event_bytes by default."""
MAX_SESSIONS_PER_KEY = 4
"""realtime.max_sessions_per_key by default."""


# -- helpers ------------------------------------------------------------------------------------


def ws_url(server: ServerProcess, query: str = "model=gpt-realtime") -> str:
    return server.base_url.replace("http://", "ws://") + "/v1/realtime?" + query


def open_raw(
    server: ServerProcess,
    query: str = "model=gpt-realtime",
    key: str | None = "sk-test",
    beta: bool = False,
    subprotocols: list[str] | None = None,
) -> ClientConnection:
    headers: dict[str, str] = {}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    if beta:
        headers["OpenAI-Beta"] = "realtime=v1"
    return connect(
        ws_url(server, query),
        additional_headers=headers,
        subprotocols=subprotocols,  # type: ignore[arg-type]
        max_size=None,
        open_timeout=10,
    )


def sdk_client(server: ServerProcess, key: str = "sk-test") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=key, max_retries=0)


# -- 1. malformed input -------------------------------------------------------------------------

B64_ODD = base64.b64encode(b"\x01\x02\x03").decode()
ROBOT = {"type": "message", "role": "robot", "content": [{"type": "input_text", "text": "beep"}]}
FLAC = {"type": "realtime", "audio": {"input": {"format": {"type": "audio/flac"}}}}
MALFORMED: list[tuple[str, str | dict[str, Any]]] = [
    # (error.code, the event: a str is sent as it is, a dict gets an event_id)
    ("invalid_json", '{"type": "response.create", '),
    ("invalid_event", '[{"type": "response.create"}]'),
    ("missing_type", {"audio": "AAAA"}),
    ("invalid_value", {"type": "response.explode"}),
    ("invalid_audio", {"type": "input_audio_buffer.append", "audio": "not base64!!"}),
    ("invalid_audio", {"type": "input_audio_buffer.append", "audio": B64_ODD}),
    ("invalid_value", {"type": "conversation.item.create", "item": ROBOT}),
    (
        "item_retrieve_invalid_item_id",
        {"type": "conversation.item.retrieve", "item_id": "item_nope"},
    ),
    (
        "item_truncate_invalid_item_id",
        {
            "type": "conversation.item.truncate",
            "item_id": "item_nope",
            "content_index": 0,
            "audio_end_ms": 10,
        },
    ),
    ("response_cancel_not_active", {"type": "response.cancel"}),
    ("input_audio_buffer_commit_empty", {"type": "input_audio_buffer.commit"}),
    ("invalid_value", {"type": "session.update", "session": FLAC}),
]


def test_malformed_events_each_get_one_error_and_the_session_goes_on(
    chat_server: ServerProcess, upstream: ChatStandIn
) -> None:
    upstream.plan(Reply(content=["Still", " here."]))
    with open_raw(chat_server) as ws:
        assert recv(ws)["type"] == "session.created"
        for index, (code, event) in enumerate(MALFORMED):
            if isinstance(event, str):
                event_id, what = None, event
                ws.send(event)
            else:
                event_id, what = f"evt_bad_{index}", event.get("type", "no type")
                send(ws, {"event_id": event_id, **event})
            # a harmless event after it: everything before its answer came from the bad one
            send(ws, {"event_id": f"probe_{index}", "type": "input_audio_buffer.clear"})
            answered = until(ws, "input_audio_buffer.cleared", limit=10)
            assert [e["type"] for e in answered] == ["error", "input_audio_buffer.cleared"], what
            error = answered[0]["error"]
            assert isinstance(error["type"], str) and error["type"], (what, error)
            assert isinstance(error["message"], str) and error["message"], (what, error)
            assert error["type"] == "invalid_request_error", (what, error)
            assert error["code"] == code, (what, error)
            assert error.get("event_id") == event_id, (what, error)
        # the refused session.update changed nothing; a valid one applies
        send(ws, {"type": "session.update",
                  "session": {"type": "realtime", "output_modalities": ["text"]}})  # fmt: skip
        session = until(ws, "session.updated")[-1]["session"]
        assert session["output_modalities"] == ["text"]
        assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
        send(ws, {"type": "conversation.item.create", "item": user_text("Are you there?")})
        send(ws, {"type": "response.create"})
        events = until(ws, "response.done")
    assert not [e for e in events if e["type"] == "error"], events
    assert deltas(events, "response.output_text.delta") == "Still here."
    assert events[-1]["response"]["status"] == "completed"
    # the invalid role's item never joined the conversation
    assert upstream.requests[0].body["messages"] == [{"role": "user", "content": "Are you there?"}]


# -- 2. an oversized event ----------------------------------------------------------------------


def test_an_oversized_event_is_refused_and_the_connection_stays_open(
    chat_server: ServerProcess,
) -> None:
    size = MAX_EVENT_BYTES + 512 * 1024  # over the event limit, under the socket's frame limit
    with sdk_client(chat_server).realtime.connect(model="gpt-realtime") as connection:
        assert connection.recv().type == "session.created"
        connection.input_audio_buffer.append(audio="A" * size, event_id="evt_huge")
        error = connection.recv()
        assert error.type == "error", error
        assert error.error.code == "event_too_large"
        assert error.error.type == "invalid_request_error" and error.error.message
        assert str(MAX_EVENT_BYTES) in error.error.message
        connection.conversation.item.create(item=user_text("still open?"))  # type: ignore[arg-type]
        added = connection.recv()
        assert added.type == "conversation.item.added", added
        assert added.item.content[0].text == "still open?"  # type: ignore[union-attr]


# -- 3. conformance: the events of a text turn, GA and beta -------------------------------------

GA_TURN = ["conversation.item.added", "conversation.item.done", "response.created",
           "response.output_item.added", "conversation.item.added",
           "response.content_part.added", "response.output_text.delta",
           "response.output_text.done", "response.content_part.done",
           "response.output_item.done", "conversation.item.done", "response.done",
           "rate_limits.updated"]  # fmt: skip
BETA_TURN = ["conversation.item.created", "response.created", "response.output_item.added",
             "conversation.item.created", "response.content_part.added", "response.text.delta",
             "response.text.done", "response.content_part.done", "response.output_item.done",
             "response.done", "rate_limits.updated"]  # fmt: skip
WHERE = ("response_id", "item_id", "output_index", "content_index")
REQUIRED: dict[str, tuple[str, ...]] = {
    "session.created": ("session",),
    "conversation.created": ("conversation",),
    "conversation.item.added": ("item",),
    "conversation.item.done": ("item",),
    "conversation.item.created": ("item",),
    "response.created": ("response",),
    "response.done": ("response",),
    "response.output_item.added": ("response_id", "output_index", "item"),
    "response.output_item.done": ("response_id", "output_index", "item"),
    "response.content_part.added": (*WHERE, "part"),
    "response.content_part.done": (*WHERE, "part"),
    "response.output_text.delta": (*WHERE, "delta"),
    "response.text.delta": (*WHERE, "delta"),
    "response.output_text.done": (*WHERE, "text"),
    "response.text.done": (*WHERE, "text"),
    "rate_limits.updated": ("rate_limits",),
}
RESPONSE_FIELDS = ("id", "object", "status", "status_details", "output", "usage",
                   "conversation_id", "max_output_tokens", "metadata")  # fmt: skip
ANSWER = ["The", " capital", " is", " Paris."]


def collapse(kinds: list[str], delta: str) -> list[str]:
    """The event types with each run of deltas as one."""
    out: list[str] = []
    for kind in kinds:
        if not (kind == delta and out and out[-1] == delta):
            out.append(kind)
    return out


def check_response(response: dict[str, Any], beta: bool) -> None:
    for name in RESPONSE_FIELDS:
        assert name in response, (name, response)
    assert response["id"].startswith("resp_") and response["object"] == "realtime.response"
    if beta:
        assert response["modalities"] == ["text"]
    else:
        assert response["output_modalities"] == ["text"]


@pytest.mark.parametrize("generation", ["ga", "beta"])
def test_a_text_turn_has_openais_events_in_order_with_their_fields(
    chat_server: ServerProcess, upstream: ChatStandIn, generation: str
) -> None:
    beta = generation == "beta"
    upstream.plan(Reply(content=ANSWER))
    with open_raw(chat_server, beta=beta) as ws:
        assert ws.subprotocol is None  # nothing offered, nothing chosen
        created = recv(ws)
        opening = [created]
        assert created["type"] == "session.created"
        session = created["session"]
        if beta:
            assert "type" not in session
            assert session["modalities"] == ["text", "audio"]
            assert session["input_audio_format"] == "pcm16"
            assert session["turn_detection"]["type"] == "server_vad"
            opening.append(recv(ws))
            assert opening[1]["type"] == "conversation.created"
            assert opening[1]["conversation"]["object"] == "realtime.conversation"
        else:
            assert session["type"] == "realtime"
            assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
            assert session["audio"]["output"]["voice"] == "alloy"
        send(ws, {"type": "conversation.item.create",
                  "item": user_text("What is the capital of France?")})  # fmt: skip
        text_only = {"modalities": ["text"]} if beta else {"output_modalities": ["text"]}
        send(ws, {"type": "response.create", "response": text_only})
        events = until(ws, "response.done")
        events.append(recv(ws))  # rate_limits.updated follows the response
    delta_kind = "response.text.delta" if beta else "response.output_text.delta"
    kinds = [e["type"] for e in events]
    assert collapse(kinds, delta_kind) == (BETA_TURN if beta else GA_TURN), kinds
    assert kinds.count(delta_kind) == len(ANSWER)

    every = opening + events
    ids = [e["event_id"] for e in every]
    assert all(isinstance(i, str) and i for i in ids) and len(set(ids)) == len(ids), ids
    for event in every:
        for name in REQUIRED[event["type"]]:
            assert name in event, (name, event)
        for name in ("output_index", "content_index"):
            if name in event:
                assert isinstance(event[name], int) and event[name] == 0, event

    by_kind: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_kind.setdefault(event["type"], []).append(event)
    item_event = "conversation.item.created" if beta else "conversation.item.added"
    user_item, assistant_added = (e["item"] for e in by_kind[item_event])
    assert user_item["role"] == "user" and user_item["object"] == "realtime.item"
    assert user_item["content"] == [{"type": "input_text",
                                     "text": "What is the capital of France?"}]  # fmt: skip
    assert by_kind[item_event][1]["previous_item_id"] == user_item["id"]

    response = by_kind["response.created"][0]["response"]
    check_response(response, beta)
    assert response["status"] == "in_progress" and response["output"] == []
    assert response["status_details"] is None and response["usage"] is None
    response_id = response["id"]
    added = by_kind["response.output_item.added"][0]
    assert added["response_id"] == response_id and added["output_index"] == 0
    item_id = added["item"]["id"]
    assert added["item"]["role"] == "assistant" and added["item"]["status"] == "in_progress"
    assert assistant_added["id"] == item_id
    for event in every:
        if "item_id" in event:
            assert event["item_id"] == item_id, event
        if "response_id" in event:
            assert event["response_id"] == response_id, event
    text_kind = "text" if beta else "output_text"
    assert by_kind["response.content_part.added"][0]["part"] == {"type": "text", "text": ""}
    assert deltas(events, delta_kind) == "The capital is Paris."
    text_done = "response.text.done" if beta else "response.output_text.done"
    assert by_kind[text_done][0]["text"] == "The capital is Paris."
    assert by_kind["response.content_part.done"][0]["part"] == {
        "type": "text",
        "text": "The capital is Paris.",
    }
    finished = by_kind["response.output_item.done"][0]["item"]
    assert finished["id"] == item_id and finished["status"] == "completed"
    assert finished["content"] == [{"type": text_kind, "text": "The capital is Paris."}]
    if not beta:
        assert by_kind["conversation.item.done"][1]["item"] == finished

    done = by_kind["response.done"][0]["response"]
    check_response(done, beta)
    assert done["id"] == response_id and done["status"] == "completed"
    assert done["status_details"] is None
    assert done["output"] == [finished]
    usage = done["usage"]
    for name in ("total_tokens", "input_tokens", "output_tokens"):
        assert isinstance(usage[name], int), usage
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] > 0
    limits = by_kind["rate_limits.updated"][0]["rate_limits"]
    assert {limit["name"] for limit in limits} <= {"requests", "tokens"} and limits

    sent = upstream.requests[0].body["messages"]
    assert any("What is the capital of France?" in str(m.get("content")) for m in sent), sent


# -- 4. auth at the handshake -------------------------------------------------------------------


def refused_status(server: ServerProcess, **kwargs: Any) -> int | None:
    """The HTTP status of a refused handshake, or None when the WebSocket opened."""
    try:
        with connect(ws_url(server), max_size=None, open_timeout=10, **kwargs):
            return None
    except InvalidStatus as refused:
        return refused.response.status_code


def test_the_handshake_needs_a_key(auth_server: ServerProcess) -> None:
    assert refused_status(auth_server) == 401
    wrong = ["realtime", KEY_SUBPROTOCOL + "sk-sa-wrong-000000000000000"]
    assert refused_status(auth_server, subprotocols=wrong) == 401
    assert refused_status(auth_server, subprotocols=[*wrong[:1], BETA_SUBPROTOCOL, wrong[1]]) == 401


def test_a_browser_key_subprotocol_is_accepted_and_realtime_is_echoed(
    auth_server: ServerProcess,
) -> None:
    key = create_key(auth_server, "rt-user")
    offered = ["realtime", KEY_SUBPROTOCOL + key]
    with open_raw(auth_server, "intent=transcription", key=None, subprotocols=offered) as ws:
        assert ws.subprotocol == "realtime"
        created = recv(ws)
        assert created["type"] == "session.created" and created["event_id"]
        assert created["session"]["type"] == "transcription"
        send(ws, {"type": "conversation.item.create", "item": user_text("hello")})
        send(ws, {"type": "input_audio_buffer.clear"})
        kinds = [e["type"] for e in until(ws, "input_audio_buffer.cleared")]
    assert kinds == ["conversation.item.added", "conversation.item.done",
                     "input_audio_buffer.cleared"]  # fmt: skip


def test_the_beta_subprotocol_gives_beta_events(auth_server: ServerProcess) -> None:
    key = create_key(auth_server, "rt-user-beta")
    offered = ["realtime", BETA_SUBPROTOCOL, KEY_SUBPROTOCOL + key]
    with open_raw(auth_server, "intent=transcription", key=None, subprotocols=offered) as ws:
        assert ws.subprotocol == "realtime"
        created = recv(ws)
        assert created["type"] == "session.created"
        assert created["session"]["input_audio_format"] == "pcm16"
        assert recv(ws)["type"] == "conversation.created"
        send(ws, {"type": "conversation.item.create", "item": user_text("hello")})
        send(ws, {"type": "input_audio_buffer.clear"})
        kinds = [e["type"] for e in until(ws, "input_audio_buffer.cleared")]
    assert kinds == ["conversation.item.created", "input_audio_buffer.cleared"]


def test_without_a_chat_model_a_realtime_session_is_refused_with_the_fix(
    auth_server: ServerProcess,
) -> None:
    """The auth server has no chat upstream: the socket opens, one error says what to set, and
    the server closes it (policy violation)."""
    key = create_key(auth_server, "rt-no-brain")
    with open_raw(auth_server, key=key) as ws:
        event = recv(ws)
        assert event["type"] == "error" and event["event_id"]
        error = event["error"]
        assert error["type"] == "server_error"
        assert error["code"] == "model_not_configured"
        assert "STEPAUDIO_CHAT_BASE_URL" in error["message"]
        with pytest.raises(ConnectionClosed) as closed:
            recv(ws, timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


# -- 5. the per-key session limit ---------------------------------------------------------------


def test_a_key_holds_at_most_four_sessions(chat_server: ServerProcess) -> None:
    key = create_key(chat_server, "rt-limit")
    client = sdk_client(chat_server, key)
    with contextlib.ExitStack() as stack:
        held: list[Any] = []
        for _ in range(MAX_SESSIONS_PER_KEY):
            connection = stack.enter_context(client.realtime.connect(model="gpt-realtime"))
            assert connection.recv().type == "session.created"
            held.append(connection)
        with client.realtime.connect(model="gpt-realtime") as fifth:
            refused = fifth.recv()
            assert refused.type == "error", refused
            assert refused.error.code == "session_limit_reached"
            assert refused.error.type == "invalid_request_error" and "rt-limit" in (
                refused.error.message
            )
            with pytest.raises(ConnectionClosed) as closed:
                fifth.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        # the limit is the key's: another caller still gets a session
        with sdk_client(chat_server).realtime.connect(model="gpt-realtime") as other:
            assert other.recv().type == "session.created"
        held[0].close()
        deadline, answer = time.monotonic() + 5.0, ""
        while time.monotonic() < deadline:
            with client.realtime.connect(model="gpt-realtime") as again:
                first = again.recv()
                answer = first.type if first.type != "error" else first.error.code or ""
            if answer == "session.created":
                break
            time.sleep(0.1)
        assert answer == "session.created"


# -- 6. a client that vanishes mid-response -----------------------------------------------------


def test_a_client_that_vanishes_mid_response_stops_it_and_closes_the_session(
    chat_server: ServerProcess, upstream: ChatStandIn
) -> None:
    admin_key = create_key(chat_server, "rt-admin", "--admin")
    upstream.plan(Reply(content=[f" word{i}." for i in range(60)], chunk_delay=0.2))
    with open_raw(chat_server) as ws:
        session_id = recv(ws)["session"]["id"]
        send(ws, {"type": "session.update",
                  "session": {"type": "realtime", "output_modalities": ["text"]}})  # fmt: skip
        until(ws, "session.updated")
        send(ws, {"type": "conversation.item.create", "item": user_text("Count slowly.")})
        send(ws, {"type": "response.create"})
        until(ws, "response.output_text.delta")
        ws.socket.shutdown(socket.SHUT_RDWR)  # gone, with no close frame
        ws.close_socket()
        left = time.monotonic()
    closed = upstream.wait_for_close(0, 3.0)
    assert closed is not None and closed - left < 1.0, (closed, left)
    assert not upstream.requests[0].completed
    headers = {"Authorization": f"Bearer {admin_key}"}
    deadline, row = time.monotonic() + 3.0, None
    while time.monotonic() < deadline:
        response = httpx.get(f"{chat_server.base_url}/admin/sessions", headers=headers)
        assert response.status_code == 200, response.text
        row = next((s for s in response.json()["data"] if s["id"] == session_id), None)
        if row is not None and row["status"] == "closed":
            break
        time.sleep(0.1)
    assert row is not None and row["status"] == "closed", row
    assert row["closed_at"] is not None and row["type"] == "realtime"


# -- 7. settings checked when they are given ----------------------------------------------------


def errors_and_reply(ws: ClientConnection, event: dict[str, Any]) -> list[dict[str, Any]]:
    """Send ``event``, then a harmless probe: what came back before the probe's answer."""
    send(ws, event)
    send(ws, {"type": "input_audio_buffer.clear"})
    return until(ws, "input_audio_buffer.cleared", limit=10)[:-1]


REFUSED_UPDATES: list[tuple[dict[str, Any], str, str]] = [
    # (session, the param named, the code)
    ({"type": "realtime", "model": "whisper-1"}, "session.model", "model_not_supported"),
    ({"type": "realtime", "model": "gpt-nothing"}, "session.model", "model_not_found"),
    ({"type": "realtime", "audio": {"output": {"voice": "nobody"}}},
     "session.audio.output.voice", "voice_not_found"),
    ({"type": "realtime", "audio": {"input": {"transcription": {"model": "gpt-nothing"}}}},
     "session.audio.input.transcription.model", "model_not_found"),
    ({"type": "realtime", "audio": {"input": {"transcription": {"model": "whisper-1",
                                                                 "language": "zz"}}}},
     "session.audio.input.transcription.language", "unsupported_language"),
    ({"type": "realtime", "output_modalities": ["smell"]}, "session.output_modalities[0]",
     "invalid_value"),
    ({"type": "realtime", "max_output_tokens": -5}, "session.max_output_tokens",
     "invalid_value"),
]  # fmt: skip


def test_a_refused_session_update_names_the_field_and_changes_nothing(
    chat_server: ServerProcess, upstream: ChatStandIn
) -> None:
    upstream.plan(Reply(content=["Still", " spoken."]))
    with open_raw(chat_server, "model=gpt-realtime-2.1") as ws:
        created = recv(ws)["session"]
        for session, param, code in REFUSED_UPDATES:
            answered = errors_and_reply(ws, {"type": "session.update", "session": session})
            assert [e["type"] for e in answered] == ["error"], (session, answered)
            error = answered[0]["error"]
            assert (error["param"], error["code"]) == (param, code), (session, error)
            assert "Traceback" not in error["message"] and error["message"], error
        # nothing changed: the session is as created, and it still speaks in its voice
        send(ws, {"type": "session.update", "session": {"type": "realtime"}})
        assert until(ws, "session.updated")[-1]["session"] == created
        send(ws, {"type": "conversation.item.create", "item": user_text("Are you there?")})
        send(ws, {"type": "response.create"})
        events = until(ws, "response.done")
    assert events[-1]["response"]["status"] == "completed", events[-1]
    assert len(audio_bytes(events)) > 24000


def test_a_session_update_naming_our_model_is_honoured(
    chat_server: ServerProcess, upstream: ChatStandIn
) -> None:
    """openai-agents always sends session.update {"model": ...}: a model of ours (an alias of
    a chat model) is taken and answers."""
    upstream.plan(Reply(content=["Hello", " there."]))
    with open_raw(chat_server, "model=gpt-realtime") as ws:
        recv(ws)
        send(ws, {"type": "session.update", "session": {
            "type": "realtime", "model": "gpt-realtime-2.1", "output_modalities": ["text"],
            "tracing": "auto"}})  # fmt: skip
        assert until(ws, "session.updated")[-1]["session"]["model"] == "gpt-realtime-2.1"
        send(ws, {"type": "conversation.item.create", "item": user_text("Hi")})
        send(ws, {"type": "response.create"})
        events = until(ws, "response.done")
    assert events[-1]["response"]["status"] == "completed", events[-1]
    assert deltas(events, "response.output_text.delta") == "Hello there."


def test_a_response_override_is_checked_before_the_response(
    chat_server: ServerProcess, upstream: ChatStandIn
) -> None:
    upstream.plan(Reply(content=["Fine."]))
    with open_raw(chat_server, "model=gpt-realtime") as ws:
        recv(ws)
        send(ws, {"type": "conversation.item.create", "item": user_text("Hi")})
        until(ws, "conversation.item.done")
        for response, param in (
            ({"audio": {"output": {"voice": "nobody"}}}, "response.audio.output.voice"),
            ({"output_modalities": ["smell"]}, "response.output_modalities[0]"),
            ({"max_output_tokens": -5}, "response.max_output_tokens"),
        ):
            answered = errors_and_reply(ws, {"type": "response.create", "response": response})
            assert [e["type"] for e in answered] == ["error"], (response, answered)
            assert answered[0]["error"]["param"] == param, answered[0]
        send(ws, {"type": "response.create", "response": {"output_modalities": ["text"]}})
        events = until(ws, "response.done")
    assert events[-1]["response"]["status"] == "completed"
    assert deltas(events, "response.output_text.delta") == "Fine."


def test_control_characters_in_a_reply_are_not_spoken(
    chat_server: ServerProcess, upstream: ChatStandIn
) -> None:
    upstream.plan(Reply(content=["All is", " well.", " The\x00 next", " one\x07 too."]))
    with open_raw(chat_server) as ws:
        recv(ws)
        send(ws, {"type": "conversation.item.create", "item": user_text("Hi")})
        send(ws, {"type": "response.create"})
        events = until(ws, "response.done")
    assert events[-1]["response"]["status"] == "completed", events[-1]
    assert len(audio_bytes(events)) > 24000
