"""Chat when things go wrong: upstream errors, hangs and drops, a client that leaves, no
upstream at all, and every kind of bad request; each a clear error, nothing left running."""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx
import openai
import pytest
from chat_helpers import audio_part
from chat_stand_in import ChatStandIn, Reply, openai_error
from conftest import ServerProcess
from keys import admin_get, create_key, sdk

ANSWER = [f" word{i}." for i in range(40)]
USER = [{"role": "user", "content": "Talk to me."}]


def chat(server: ServerProcess, **extra: Any) -> Any:
    return server.client().chat.completions.create(
        model="step-audio-chat", messages=extra.pop("messages", USER), **extra
    )


def test_an_upstream_500_is_a_502_that_names_the_upstream(
    chat_server: ServerProcess, upstream: ChatStandIn
) -> None:
    broken = Reply(status=500, error=openai_error("CUDA out of memory", type="server_error"))
    upstream.plan(broken, broken)
    with pytest.raises(openai.InternalServerError) as caught:
        chat(chat_server)
    assert caught.value.status_code == 502
    message = caught.value.message
    assert f"chat upstream 'chat-upstream' at {upstream.base_url}" in message
    assert "answered 500: CUDA out of memory" in message
    assert len(upstream.requests) == 2  # one retry (max_retries = 1 here)


def test_an_upstream_that_recovers_on_retry_is_invisible(
    chat_server: ServerProcess, upstream: ChatStandIn
) -> None:
    upstream.plan(Reply(status=503, error=openai_error("busy")), Reply(content=["Fine."]))
    assert chat(chat_server).choices[0].message.content == "Fine."


def test_an_upstream_that_never_starts_is_a_504(
    chat_server: ServerProcess, upstream: ChatStandIn
) -> None:
    upstream.plan(Reply(content=["late"], delay=10))
    started = time.monotonic()
    with pytest.raises(openai.InternalServerError) as caught:
        chat(chat_server)
    assert caught.value.status_code == 504
    assert "sent no first token within 2 s" in caught.value.message
    assert time.monotonic() - started < 5
    assert upstream.wait_for_close(0, 2.0) is not None  # and its connection was closed


@pytest.mark.parametrize(
    ("reply", "said"),
    [
        (Reply(content=ANSWER, hang_after=4), "sent nothing for 1.5 s mid-answer"),
        (Reply(content=ANSWER, drop_after=4), "closed the stream before [DONE]"),
        (Reply(content=ANSWER, error_event_after=4), "failed in the middle of the answer"),
    ],
    ids=["hangs", "drops", "error-event"],
)
def test_an_upstream_that_fails_mid_stream_ends_the_stream_with_an_error(
    chat_server: ServerProcess, upstream: ChatStandIn, reply: Reply, said: str
) -> None:
    upstream.plan(reply)
    received = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in chat(chat_server, stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)
    assert said in caught.value.message
    assert "chat upstream 'chat-upstream'" in caught.value.message
    assert received == ANSWER[:3]  # what came before the failure was passed on


def test_an_upstream_that_drops_before_a_whole_reply_is_a_502(
    chat_server: ServerProcess, upstream: ChatStandIn
) -> None:
    """Answered in one piece, nothing has been sent yet when the upstream breaks off: a 502."""
    upstream.plan(Reply(content=ANSWER, drop_after=4))
    with pytest.raises(openai.InternalServerError) as caught:
        chat(chat_server, modalities=["text", "audio"], audio={"voice": "alloy", "format": "mp3"})
    assert caught.value.status_code == 502
    assert "closed the stream before [DONE]" in caught.value.message


def test_a_client_that_disconnects_closes_the_upstream_within_a_second(
    chat_server: ServerProcess, upstream: ChatStandIn
) -> None:
    upstream.plan(Reply(content=ANSWER, chunk_delay=0.2))
    body = {"model": "step-audio-chat", "messages": USER, "stream": True}
    with httpx.stream("POST", f"{chat_server.base_url}/v1/chat/completions", json=body) as r:
        events = 0
        for line in r.iter_lines():
            events += line.startswith("data: ")
            if events == 3:
                break
        left = time.monotonic()
    closed = upstream.wait_for_close(0, 3.0)
    assert closed is not None and closed - left < 1.0
    assert not upstream.requests[0].completed


def test_spoken_reply_disconnect_also_closes_the_upstream(
    chat_server: ServerProcess, upstream: ChatStandIn
) -> None:
    upstream.plan(Reply(content=ANSWER, chunk_delay=0.2))
    body = {"model": "step-audio-chat", "messages": USER, "stream": True,
            "modalities": ["text", "audio"],
            "audio": {"voice": "alloy", "format": "pcm16"}}  # fmt: skip
    with httpx.stream("POST", f"{chat_server.base_url}/v1/chat/completions", json=body) as r:
        for line in r.iter_lines():
            if '"data":"' in line:  # the first audio
                break
        left = time.monotonic()
    closed = upstream.wait_for_close(0, 3.0)
    assert closed is not None and closed - left < 1.0


def test_without_an_upstream_chat_says_how_to_configure_one(client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="gpt-4o-audio-preview", messages=USER)  # type: ignore[arg-type]
    assert caught.value.status_code == 503
    assert caught.value.body["code"] == "model_not_configured"  # type: ignore[index]
    for setting in ("STEPAUDIO_CHAT_BASE_URL", "STEPAUDIO_CHAT_MODEL", "STEPAUDIO_CHAT_API_KEY"):
        assert setting in caught.value.message
    # speech still works on that server
    assert len(client.audio.speech.create(model="tts-1", voice="alloy", input="Hi.").read()) > 100


AUDIO = {"modalities": ["text", "audio"], "audio": {"voice": "alloy", "format": "wav"}}


def _user(part: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [part]}]


BAD_REQUESTS = [
    ({"messages": _user(audio_part(b"x", "wav") | {"input_audio": {"data": "%%%",
      "format": "wav"}})}, 400, "messages[0].content[0].input_audio.data", "base64"),
    ({"messages": _user(audio_part(b"this is not audio at all" * 40))}, 400,
     "messages[0].content[0].input_audio", "not a recognised audio format"),
    ({"messages": _user(audio_part(b""))}, 400, "messages[0].content[0].input_audio", "empty"),
    ({"modalities": ["text", "audio"]}, 400, "audio", "'audio' is required"),
    ({**AUDIO, "stream": True}, 400, "audio.format", "pcm16"),
    ({"modalities": ["text", "audio"], "audio": {"voice": "nobody", "format": "wav"}}, 400,
     "audio.voice", "Unknown voice 'nobody'"),
    ({"modalities": ["text", "audio"], "audio": {"voice": "alloy", "format": "ogg"}}, 400,
     "audio", "format"),
    ({**AUDIO, "audio": {"voice": "alloy", "format": "wav", "emotion": "smug"}}, 400,
     "emotion", "Unknown emotion 'smug'"),
    ({"model": "gpt-17"}, 404, "model", "does not exist"),
    ({"model": "tts-1"}, 400, "model", "cannot do chat"),
    ({"n": 2}, 400, "n", "n=1"),
    ({"messages": []}, 400, "messages", "length"),
    ({"messages": [{"role": "robot", "content": "beep"}]}, 400, "messages", "robot"),
    ({"messages": [{"role": "user", "content": 42}]}, 400, "messages", "content"),
    ({"max_tokens": 10**18}, 400, "max_tokens", "context window is 8192"),
    ({"max_completion_tokens": 8192}, 400, "max_completion_tokens", "fewer than 8192"),
    ({"tools": [{"type": "function", "function": {
        "name": f"tool_{i}", "description": "A tool that does one small thing well. " * 4,
        "parameters": {"type": "object", "properties": {"x": {"type": "string"}}}}}
        for i in range(1000)]}, 400, "tools", "tools' definitions need about"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "status", "param", "words"), BAD_REQUESTS)
def test_bad_chat_requests_get_a_clear_4xx(
    chat_server: ServerProcess, upstream: ChatStandIn, change: dict[str, Any], status: int,
    param: str, words: str,
) -> None:  # fmt: skip
    body = {"model": "step-audio-chat", "messages": USER, **change}
    response = httpx.post(f"{chat_server.base_url}/v1/chat/completions", json=body, timeout=30)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["param"] or "").startswith(param), error
    assert words in error["message"], error
    assert upstream.requests == []  # refused before the upstream was asked


def test_an_oversized_chat_body_is_refused_before_it_is_read(chat_server: ServerProcess) -> None:
    data = base64.b64encode(b"\0" * (16 * 1024 * 1024)).decode()  # 21.3 MB of base64
    body = {"model": "step-audio-chat", "messages": _user(
        {"type": "input_audio", "input_audio": {"data": data, "format": "wav"}})}  # fmt: skip
    response = httpx.post(f"{chat_server.base_url}/v1/chat/completions", json=body, timeout=60)
    assert response.status_code == 413
    assert response.json()["error"]["message"]


def test_chat_is_metered_with_the_upstreams_tokens_and_the_audio_seconds(
    chat_server: ServerProcess, upstream: ChatStandIn
) -> None:
    from chat_helpers import spoken

    admin_key = create_key(chat_server, "chat-admin", "--admin")
    key = create_key(chat_server, "chat-metered")
    question = spoken(chat_server, "What is the weather like today?")
    upstream.plan(Reply(content=["It is sunny.", " Enjoy it."]))
    response = sdk(chat_server, key).chat.completions.with_raw_response.create(
        model="gpt-4o-audio-preview", modalities=["text", "audio"],
        audio={"voice": "alloy", "format": "mp3"}, messages=_user(audio_part(question)),  # type: ignore[arg-type]
    )  # fmt: skip
    reply = response.parse()
    records = admin_get(chat_server, admin_key, "/admin/usage/records",
                        request_id=response.headers["x-request-id"])["data"]  # fmt: skip
    assert len(records) == 1
    record = records[0]
    assert (record["model"], record["capability"], record["status"]) == (
        "step-audio-chat", "chat", "completed",
    )  # fmt: skip
    assert record["input_tokens"] == reply.usage.prompt_tokens  # type: ignore[union-attr]
    assert record["output_tokens"] == 2  # the stand-in counts its content chunks
    assert 1.0 < record["audio_seconds_in"] < 4.0
    assert record["audio_seconds_out"] == pytest.approx(
        reply.usage.output_audio_seconds,
        abs=0.01,  # type: ignore[union-attr]
    )
