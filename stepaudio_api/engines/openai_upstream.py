"""A chat model reached over HTTP at any OpenAI-compatible ``/v1`` (SGLang, vLLM, llama.cpp)."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import anyio
import httpx

from stepaudio_api.engines.chat import ChatModel
from stepaudio_api.engines.circuit_breaker import CircuitBreaker
from stepaudio_api.engines.upstream_attempts import Failure, status_failure, with_retries
from stepaudio_api.errors import (
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)


@dataclass(frozen=True, slots=True)
class UpstreamSettings:
    base_url: str
    """The upstream's OpenAI-compatible ``/v1`` URL, e.g. ``http://gpu-1:30000/v1``."""
    model: str
    """The model name the upstream knows; it replaces whatever the client asked for."""
    api_key: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    """The longest silence allowed between two chunks once the answer has started."""
    first_token_timeout: float = 30.0
    """From sending the request to the first chunk, across the response headers."""
    max_retries: int = 2
    """Further attempts after a connect error, a 429 or a 5xx, only before any chunk is sent on."""
    backoff_seconds: float = 0.5
    """The first retry's wait, doubled for each one after; a shorter Retry-After does not
    shorten it, a longer one (up to ``first_token_timeout``) lengthens it."""
    breaker_failures: int = 5
    """Consecutive failed attempts after which the upstream is not called for a while."""
    breaker_reset_seconds: float = 30.0
    name: str = "chat upstream"


class _EndedEarly(Exception):
    """The upstream closed the stream before ``data: [DONE]``."""


class _BadEvent(Exception):
    """The upstream sent an event that is not a chunk, or an error in the middle of the stream."""


class OpenAIUpstream(ChatModel):
    """Streams chat completions from an upstream: retries, a circuit breaker, clear errors."""

    def __init__(
        self, settings: UpstreamSettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.breaker = CircuitBreaker(settings.breaker_failures, settings.breaker_reset_seconds)
        headers = {"Accept": "text/event-stream"}
        if settings.api_key:
            headers["Authorization"] = f"Bearer {settings.api_key}"
        self._url = settings.base_url.rstrip("/") + "/chat/completions"
        self._client = httpx.AsyncClient(
            headers=headers,
            transport=transport,
            timeout=httpx.Timeout(
                connect=settings.connect_timeout,
                read=max(settings.read_timeout, settings.first_token_timeout),
                write=settings.read_timeout,
                pool=settings.connect_timeout,
            ),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    @property
    def who(self) -> str:
        return f"the {self.settings.name} at {self.settings.base_url}"

    def upstream_body(self, request: dict[str, Any]) -> dict[str, Any]:
        """The body the upstream is sent: the configured model, always streamed with usage."""
        body = dict(request)
        body["model"] = self.settings.model
        body["stream"] = True
        body["stream_options"] = {**(request.get("stream_options") or {}), "include_usage": True}
        return body

    async def stream(self, request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        body = self.upstream_body(request)
        stack, chunks, first = await self._open(body)
        try:
            if first is None:
                return
            yield first
            while True:
                try:
                    # a silence mid-answer is timed here, not by httpx, whose read timeout
                    # must also cover the wait for the first token
                    async with asyncio.timeout(self.settings.read_timeout):
                        chunk = await anext(chunks)
                except StopAsyncIteration:
                    return
                yield chunk
        except (_EndedEarly, httpx.RemoteProtocolError, httpx.ReadError) as exc:
            self.breaker.failed()
            raise UpstreamError(
                f"{self.who} closed the stream before [DONE] ({describe_error(exc)})"
            ) from exc
        except _BadEvent as exc:
            self.breaker.failed()
            raise UpstreamError(f"{self.who} {exc}") from exc
        except (TimeoutError, httpx.ReadTimeout) as exc:
            self.breaker.failed()
            raise UpstreamTimeout(
                f"{self.who} sent nothing for {self.settings.read_timeout:g} s mid-answer"
            ) from exc
        finally:
            # closed even while the request's task is being cancelled (a client that went
            # away): anyio's cancellation would otherwise interrupt the close itself
            with anyio.CancelScope(shield=True):
                await stack.aclose()

    async def _open(
        self, body: dict[str, Any]
    ) -> tuple[AsyncExitStack, AsyncIterator[dict[str, Any]], dict[str, Any] | None]:
        """Send the request until an attempt yields its first chunk (or ``[DONE]``)."""

        async def attempt() -> tuple[AsyncExitStack, AsyncIterator[dict[str, Any]], Any]:
            stack = AsyncExitStack()
            try:
                chunks, first = await self._attempt(body, stack)
            except BaseException:
                await stack.aclose()
                raise
            return stack, chunks, first

        s = self.settings
        return await with_retries(
            attempt, self.breaker, self.who, s.max_retries, s.backoff_seconds, s.first_token_timeout
        )

    async def _attempt(
        self, body: dict[str, Any], stack: AsyncExitStack
    ) -> tuple[AsyncIterator[dict[str, Any]], dict[str, Any] | None]:
        timeout = self.settings.first_token_timeout
        try:
            async with asyncio.timeout(timeout):
                response = await stack.enter_async_context(
                    self._client.stream("POST", self._url, json=body)
                )
                if response.status_code >= 400:
                    await response.aread()
                    raise self._status_failure(response)
                chunks = _chunks(response)
                stack.push_async_callback(chunks.aclose)
                try:
                    first = await anext(chunks)
                except StopAsyncIteration:
                    first = None
                return chunks, first
        except TimeoutError:
            raise Failure(
                UpstreamTimeout(f"{self.who} sent no first token within {timeout:g} s"),
                retryable=False,
            ) from None
        except httpx.TimeoutException as exc:
            raise Failure(
                UpstreamTimeout(f"{self.who} did not answer in time ({describe_error(exc)})"),
                retryable=isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout),
            ) from exc
        except httpx.ConnectError as exc:
            raise Failure(
                UpstreamUnavailable(
                    f"{self.who} could not be reached ({describe_error(exc)})",
                    retry_after=max(1, math.ceil(self.settings.backoff_seconds)),
                ),
                retryable=True,
            ) from exc
        except _BadEvent as exc:
            raise Failure(UpstreamError(f"{self.who} {exc}"), retryable=False) from exc
        except (_EndedEarly, httpx.TransportError) as exc:
            raise Failure(
                UpstreamError(
                    f"{self.who} closed the stream before [DONE], before any answer "
                    f"({describe_error(exc)})"
                ),
                retryable=True,
            ) from exc

    def _status_failure(self, response: httpx.Response) -> Failure:
        upstream_error = _error_object(response)
        return status_failure(
            self.who, response.status_code, _error_message(response),
            retry_after_seconds(response.headers.get("Retry-After")),
            self.settings.backoff_seconds, param=upstream_error.get("param"),
            code=upstream_error.get("code"),
        )  # fmt: skip


async def _chunks(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """Server-sent events to chunk dicts; ends at ``[DONE]``, raises _EndedEarly without it."""
    data: list[str] = []
    async for line in response.aiter_lines():
        if line:
            field, _, value = line.partition(":")
            if field == "data":  # comments (": keep-alive"), event:, id: and retry: are skipped
                data.append(value.removeprefix(" "))
            continue
        if not data:
            continue
        event, data = "\n".join(data), []
        if event == "[DONE]":
            return
        yield _parse_chunk(event)
    if data and "\n".join(data) == "[DONE]":
        return
    raise _EndedEarly("no [DONE] at the end")


def _parse_chunk(event: str) -> dict[str, Any]:
    try:
        chunk = json.loads(event)
    except ValueError:
        raise _BadEvent(f"sent an event that is not JSON: {event[:200]!r}") from None
    if not isinstance(chunk, dict):
        raise _BadEvent(f"sent an event that is not a JSON object: {event[:200]!r}")
    if "error" in chunk:
        error = chunk["error"]
        message = error.get("message") if isinstance(error, dict) else error
        raise _BadEvent(f"failed in the middle of the answer: {message}")
    return chunk


def _error_object(response: httpx.Response) -> dict[str, Any]:
    """OpenAI's ``{"error": {...}}``, or vLLM's bare ``{"object": "error", "message": ...}``."""
    try:
        body = response.json()
    except ValueError:
        return {}
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"]
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body
    return {}


def _error_message(response: httpx.Response) -> str:
    message = _error_object(response).get("message")
    if isinstance(message, str) and message:
        return message
    text = response.text.strip()
    return text[:300] if text else response.reason_phrase or "no message"


def retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def describe_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
