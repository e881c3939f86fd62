"""The OpenAI-compatible upstream chat client, against a stand-in upstream on loopback."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from chat_stand_in import ChatStandIn, Reply, ToolCall, openai_error

from stepaudio_api.engines.openai_upstream import OpenAIUpstream, UpstreamSettings
from stepaudio_api.errors import (
    InvalidRequest,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

KEY = "sk-upstream-secret"
REQUEST = {"model": "gpt-4o-audio-preview", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def stand_in() -> Iterator[ChatStandIn]:
    with ChatStandIn() as server:
        yield server


def settings_for(base_url: str, **overrides: Any) -> UpstreamSettings:
    fast = UpstreamSettings(
        base_url=base_url,
        model="step-brain",
        api_key=KEY,
        connect_timeout=1.0,
        read_timeout=2.0,
        first_token_timeout=2.0,
        max_retries=2,
        backoff_seconds=0.02,
        breaker_failures=5,
        breaker_reset_seconds=30.0,
        name="test brain",
    )
    return replace(fast, **overrides)


async def collect(upstream: OpenAIUpstream, request: dict[str, Any]) -> list[dict[str, Any]]:
    return [chunk async for chunk in upstream.stream(request)]


def stream_into(
    received: list[dict[str, Any]], settings: UpstreamSettings, request: dict[str, Any] = REQUEST
) -> None:
    """Stream ``request``, keeping each chunk that arrives before an error; the client is
    closed."""

    async def main() -> None:
        upstream = OpenAIUpstream(settings)
        try:
            async for chunk in upstream.stream(request):
                received.append(chunk)
        finally:
            await upstream.aclose()

    asyncio.run(main())


def collected(
    settings: UpstreamSettings, request: dict[str, Any] = REQUEST
) -> list[dict[str, Any]]:
    """Every chunk of ``request``'s answer (or the error the stream ends with)."""
    received: list[dict[str, Any]] = []
    stream_into(received, settings, request)
    return received


def text_of(chunks: list[dict[str, Any]]) -> str:
    return "".join(
        choice["delta"].get("content") or "" for chunk in chunks for choice in chunk["choices"]
    )


def test_streams_text_deltas_then_usage(stand_in: ChatStandIn) -> None:
    stand_in.plan(Reply(content=["Hello", ", ", "world"], keepalive_comments=True))

    chunks = collected(settings_for(stand_in.base_url))
    assert text_of(chunks) == "Hello, world"
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["total_tokens"] == chunks[-1]["usage"]["prompt_tokens"] + 3
    sent = stand_in.requests[0]
    assert sent.body["stream"] is True
    assert sent.body["stream_options"] == {"include_usage": True}
    assert sent.body["messages"] == REQUEST["messages"]
    assert sent.headers["Authorization"] == f"Bearer {KEY}"


def test_configured_model_replaces_the_clients(stand_in: ChatStandIn) -> None:
    stand_in.plan(Reply(content=["ok"]))

    async def main() -> dict[str, Any]:
        upstream = OpenAIUpstream(settings_for(stand_in.base_url, model="qwen-on-sglang"))
        try:
            return await upstream.complete({**REQUEST, "stream": False, "temperature": 0.2})
        finally:
            await upstream.aclose()

    completion = asyncio.run(main())
    assert stand_in.requests[0].body["model"] == "qwen-on-sglang"
    assert stand_in.requests[0].body["temperature"] == 0.2
    assert stand_in.requests[0].body["stream"] is True
    assert completion["object"] == "chat.completion"
    assert completion["model"] == "qwen-on-sglang"
    assert completion["choices"][0]["message"] == {"role": "assistant", "content": "ok"}
    assert completion["usage"]["completion_tokens"] == 1


def test_tool_call_deltas_pass_through(stand_in: ChatStandIn) -> None:
    weather = ToolCall("call_1", "get_weather", ['{"city": ', '"Guang', 'zhou"}'])
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
    stand_in.plan(Reply(tool_calls=[weather]), Reply(tool_calls=[weather]))
    request = {**REQUEST, "tools": tools, "tool_choice": "auto"}

    async def main() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        upstream = OpenAIUpstream(settings_for(stand_in.base_url))
        try:
            return await collect(upstream, request), await upstream.complete(request)
        finally:
            await upstream.aclose()

    chunks, completion = asyncio.run(main())
    calls = [
        call
        for chunk in chunks
        for choice in chunk["choices"]
        for call in choice["delta"].get("tool_calls") or []
    ]
    assert calls[0] == {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    assert [call["function"]["arguments"] for call in calls[1:]] == weather.arguments
    assert stand_in.requests[0].body["tools"] == tools
    assert stand_in.requests[0].body["tool_choice"] == "auto"
    choice = completion["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["tool_calls"] == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Guangzhou"}'},
        }
    ]


def test_retries_a_500_then_streams(stand_in: ChatStandIn) -> None:
    stand_in.plan(
        Reply(status=500, error=openai_error("CUDA out of memory", type="server_error")),
        Reply(content=["recovered"]),
    )

    assert text_of(collected(settings_for(stand_in.base_url))) == "recovered"
    assert len(stand_in.requests) == 2


def test_500s_past_the_retries_are_a_502_naming_the_upstream(stand_in: ChatStandIn) -> None:
    failing = Reply(status=500, error=openai_error("CUDA out of memory", type="server_error"))
    stand_in.plan(failing, failing, failing)

    with pytest.raises(UpstreamError) as caught:
        collected(settings_for(stand_in.base_url, max_retries=2))
    assert caught.value.status == 502
    assert caught.value.code == "upstream_error"
    assert "test brain" in caught.value.message
    assert stand_in.base_url in caught.value.message
    assert "500" in caught.value.message
    assert "CUDA out of memory" in caught.value.message
    assert len(stand_in.requests) == 3


def test_a_drop_mid_stream_is_a_502_and_never_replayed(stand_in: ChatStandIn) -> None:
    stand_in.plan(Reply(content=["one ", "two ", "three"], drop_after=3), Reply(content=["again"]))
    received: list[dict[str, Any]] = []
    with pytest.raises(UpstreamError) as caught:
        stream_into(received, settings_for(stand_in.base_url))
    assert text_of(received) == "one two "
    assert caught.value.status == 502
    assert "closed the stream before [DONE]" in caught.value.message
    assert "test brain" in caught.value.message and stand_in.base_url in caught.value.message
    assert len(stand_in.requests) == 1


def test_429_waits_for_retry_after(stand_in: ChatStandIn) -> None:
    busy = openai_error("Rate limit reached", "rate_limit_exceeded", "requests")
    stand_in.plan(
        Reply(status=429, error=busy, headers={"Retry-After": "1"}), Reply(content=["ok"])
    )

    assert text_of(collected(settings_for(stand_in.base_url))) == "ok"
    first, second = stand_in.requests
    assert second.received_at - first.received_at >= 0.95


def test_429_past_the_retries_is_a_503_with_retry_after(stand_in: ChatStandIn) -> None:
    busy = openai_error("Rate limit reached", "rate_limit_exceeded", "requests")
    stand_in.plan(Reply(status=429, error=busy, headers={"Retry-After": "7"}))

    started = time.monotonic()
    with pytest.raises(UpstreamUnavailable) as caught:
        # 7 s is longer than we would wait for a first token: give up at once and pass it on
        collected(settings_for(stand_in.base_url, first_token_timeout=1.0))
    assert time.monotonic() - started < 1.0
    assert caught.value.status == 503
    assert caught.value.code == "upstream_unavailable"
    assert caught.value.headers == {"Retry-After": "7"}
    assert "429" in caught.value.message and "Rate limit reached" in caught.value.message
    assert len(stand_in.requests) == 1


@pytest.mark.parametrize(
    "hang",
    [Reply(delay=30.0), Reply(content=["late"], hang_after=0)],
    ids=["before-headers", "after-headers"],
)
def test_no_first_token_in_time_is_a_504(stand_in: ChatStandIn, hang: Reply) -> None:
    stand_in.plan(hang, Reply(content=["should not be asked for"]))

    started = time.monotonic()
    with pytest.raises(UpstreamTimeout) as caught:
        collected(settings_for(stand_in.base_url, first_token_timeout=0.3))
    assert 0.3 <= time.monotonic() - started < 1.0
    assert caught.value.status == 504
    assert caught.value.code == "upstream_timeout"
    assert "sent no first token within 0.3 s" in caught.value.message
    assert "test brain" in caught.value.message
    assert len(stand_in.requests) == 1
    assert stand_in.wait_for_close(0, timeout=1.0) is not None


def test_connection_refused_is_a_503_after_the_retries() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}/v1"

    started = time.monotonic()
    with pytest.raises(UpstreamUnavailable) as caught:
        collected(settings_for(base_url, max_retries=2, backoff_seconds=0.05))
    # two backoffs, 0.05 s then 0.1 s, between three attempts
    assert 0.15 <= time.monotonic() - started < 1.0
    assert caught.value.status == 503
    assert "could not be reached" in caught.value.message
    assert base_url in caught.value.message
    assert KEY not in caught.value.message
    assert "Retry-After" in caught.value.headers


def test_the_breaker_opens_answers_at_once_then_half_opens(stand_in: ChatStandIn) -> None:
    failing = Reply(status=500, error=openai_error("boom", type="server_error"))
    stand_in.plan(failing, failing, failing)
    settings = settings_for(
        stand_in.base_url, max_retries=0, breaker_failures=3, breaker_reset_seconds=0.4
    )

    async def main() -> None:
        upstream = OpenAIUpstream(settings)
        try:
            for _ in range(3):
                with pytest.raises(UpstreamError):
                    await collect(upstream, REQUEST)
            assert upstream.breaker.state == "open"

            started = time.monotonic()
            with pytest.raises(UpstreamUnavailable) as caught:
                await collect(upstream, REQUEST)
            assert time.monotonic() - started < 0.25  # no request, no backoff: at once
            assert caught.value.headers == {"Retry-After": "1"}
            assert "3 times in a row" in caught.value.message
            assert len(stand_in.requests) == 3

            # after the reset time one trial goes through; it fails, so the breaker opens again
            await asyncio.sleep(0.45)
            stand_in.plan(failing)
            with pytest.raises(UpstreamError):
                await collect(upstream, REQUEST)
            assert upstream.breaker.state == "open"
            with pytest.raises(UpstreamUnavailable):
                await collect(upstream, REQUEST)
            assert len(stand_in.requests) == 4

            # the next trial succeeds and closes it
            await asyncio.sleep(0.45)
            stand_in.plan(Reply(content=["back"]), Reply(content=["again"]))
            assert text_of(await collect(upstream, REQUEST)) == "back"
            assert upstream.breaker.state == "closed"
            assert text_of(await collect(upstream, REQUEST)) == "again"
        finally:
            await upstream.aclose()

    asyncio.run(main())


def test_an_upstream_400_is_our_400_with_its_message(stand_in: ChatStandIn) -> None:
    unknown = openai_error("The model `step-brain` does not exist.", "model_not_found")
    stand_in.plan(Reply(status=404, error=unknown))

    with pytest.raises(InvalidRequest) as caught:
        collected(settings_for(stand_in.base_url))
    assert caught.value.status == 400
    assert caught.value.type == "invalid_request_error"
    assert caught.value.code == "model_not_found"
    assert "The model `step-brain` does not exist." in caught.value.message
    assert "test brain" in caught.value.message
    assert len(stand_in.requests) == 1


@pytest.mark.parametrize("how", ["aclose", "cancel"])
def test_a_consumer_that_stops_closes_the_upstream_connection(
    stand_in: ChatStandIn, how: str
) -> None:
    stand_in.plan(Reply(content=["one ", "two ", "three"], hang_after=3))

    async def main() -> float:
        upstream = OpenAIUpstream(settings_for(stand_in.base_url))
        try:
            chunks = upstream.stream(REQUEST)
            if how == "aclose":
                for _ in range(3):
                    await anext(chunks)
                stopped = time.monotonic()
                await chunks.aclose()
                return stopped

            got_two = asyncio.Event()

            async def consume() -> None:
                count = 0
                async for _ in chunks:
                    count += 1
                    if count == 3:
                        got_two.set()

            task = asyncio.create_task(consume())
            await got_two.wait()
            stopped = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return stopped
        finally:
            await upstream.aclose()

    stopped = asyncio.run(main())
    closed = stand_in.wait_for_close(0, timeout=1.0)
    assert closed is not None, "the stand-in never saw the connection close"
    assert closed - stopped < 1.0
    assert not stand_in.requests[0].completed


def test_silence_mid_answer_is_a_504(stand_in: ChatStandIn) -> None:
    stand_in.plan(Reply(content=["one ", "two"], hang_after=2))
    received: list[dict[str, Any]] = []
    with pytest.raises(UpstreamTimeout) as caught:
        stream_into(received, settings_for(stand_in.base_url, read_timeout=0.3))
    assert text_of(received) == "one "
    assert "sent nothing for 0.3 s mid-answer" in caught.value.message
    assert len(stand_in.requests) == 1
    assert stand_in.wait_for_close(0, timeout=1.0) is not None


def test_an_error_event_mid_stream_is_a_502_with_its_message(stand_in: ChatStandIn) -> None:
    failed = openai_error("KV cache exhausted", type="server_error")
    stand_in.plan(Reply(content=["one ", "two"], error=failed, error_event_after=2))
    received: list[dict[str, Any]] = []
    with pytest.raises(UpstreamError) as caught:
        stream_into(received, settings_for(stand_in.base_url))
    assert text_of(received) == "one "
    assert "KV cache exhausted" in caught.value.message
    assert stand_in.base_url in caught.value.message
    assert len(stand_in.requests) == 1
