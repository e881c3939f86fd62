"""A client of SGLang's native ``/generate`` API, where the Step-Audio engines send token ids.

SGLang started with ``--skip-tokenizer-init`` takes ``input_ids`` and answers ``output_ids``;
streamed, each ``data:`` event carries the ids so far (the default) or only the new ones
(``--incremental-streaming-output``), with ``meta_info`` (``id``, ``finish_reason``,
``prompt_tokens``, ``completion_tokens``, ...), then ``data: [DONE]``. Both modes are read
here: ``meta_info.completion_tokens`` counts every id so far, so an event whose ids are fewer
is incremental. Attempts are retried before the first ids (connect errors, 429, 5xx), a
circuit breaker rests an upstream that keeps failing, and a stream given up early (a client
that left) is aborted at once with ``/abort_request`` so the GPU stops working on it.
"""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx

from stepaudio_api.engines.circuit_breaker import CircuitBreaker
from stepaudio_api.engines.openai_upstream import describe_error, retry_after_seconds
from stepaudio_api.engines.upstream_attempts import Failure, status_failure, with_retries
from stepaudio_api.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable


@dataclass(frozen=True, slots=True)
class SGLangSettings:
    base_url: str
    """SGLang's server root, e.g. ``http://gpu-1:30000`` (``/generate`` is under it)."""
    connect_timeout: float = 5.0
    first_token_timeout: float = 60.0
    read_timeout: float = 60.0
    """The longest silence between two events once ids have started to come."""
    max_retries: int = 2
    backoff_seconds: float = 0.5
    breaker_failures: int = 5
    breaker_reset_seconds: float = 30.0
    abort_timeout: float = 2.0
    name: str = "SGLang server"


@dataclass(slots=True)
class Generation:
    """What a ``/generate`` stream has said so far."""

    rid: str
    ids: list[int] = field(default_factory=list)
    finish_reason: dict[str, Any] | None = None
    meta_info: dict[str, Any] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.finish_reason is not None


class SGLangGenerate:
    """Streams token ids from one SGLang server (or SGLang's router in front of several)."""

    def __init__(
        self, settings: SGLangSettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.root = settings.base_url.rstrip("/")
        self.breaker = CircuitBreaker(settings.breaker_failures, settings.breaker_reset_seconds)
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(
                connect=settings.connect_timeout,
                read=max(settings.read_timeout, settings.first_token_timeout),
                write=settings.read_timeout,
                pool=settings.connect_timeout,
            ),
        )

    @property
    def who(self) -> str:
        return f"the {self.settings.name} at {self.root}"

    async def aclose(self) -> None:
        await self._client.aclose()

    async def stream(
        self,
        input_ids: list[int],
        sampling_params: dict[str, Any],
        custom_logit_processor: str | None = None,
        rid: str | None = None,
    ) -> AsyncIterator[tuple[Generation, list[int]]]:
        """(the generation so far, the ids new in this event) for each event. Leaving the
        loop early aborts the request on the server."""
        generation = Generation(rid or uuid.uuid4().hex)
        body: dict[str, Any] = {
            "input_ids": input_ids,
            "sampling_params": sampling_params,
            "stream": True,
            "rid": generation.rid,
        }
        if custom_logit_processor is not None:
            body["custom_logit_processor"] = custom_logit_processor
        response, events = await self._open(body)
        try:
            while True:
                try:
                    async with asyncio.timeout(self.settings.read_timeout):
                        event = await anext(events)
                except StopAsyncIteration:
                    break
                new = _take(generation, event)
                yield generation, new
            if not generation.finished:
                raise UpstreamError(f"{self.who} ended the stream without a finish reason")
        except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
            self.breaker.failed()
            raise UpstreamError(f"{self.who} broke off the stream ({describe_error(exc)})") from exc
        except (TimeoutError, httpx.ReadTimeout) as exc:
            self.breaker.failed()
            raise UpstreamTimeout(
                f"{self.who} sent nothing for {self.settings.read_timeout:g} s mid-generation"
            ) from exc
        finally:
            with anyio.CancelScope(shield=True):
                await events.aclose()
                await response.aclose()
                if not generation.finished:
                    await self.abort(generation.rid)

    async def abort(self, rid: str) -> None:
        """Ask the server to stop ``rid`` now (best effort, bounded by ``abort_timeout``)."""
        try:
            await self._client.post(
                f"{self.root}/abort_request",
                json={"rid": rid},
                timeout=self.settings.abort_timeout,
            )
        except httpx.HTTPError:
            pass  # the server is gone; so is the request

    async def health(self) -> bool:
        try:
            response = await self._client.get(f"{self.root}/health", timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def _open(self, body: dict[str, Any]) -> tuple[httpx.Response, AsyncIterator[Any]]:
        settings = self.settings
        return await with_retries(lambda: self._attempt(body), self.breaker, self.who,
                                  settings.max_retries, settings.backoff_seconds,
                                  settings.first_token_timeout)  # fmt: skip

    async def _attempt(self, body: dict[str, Any]) -> tuple[httpx.Response, AsyncIterator[Any]]:
        request = self._client.build_request("POST", f"{self.root}/generate", json=body)
        try:
            async with asyncio.timeout(self.settings.first_token_timeout):
                response = await self._client.send(request, stream=True)
        except TimeoutError:
            raise Failure(
                UpstreamTimeout(
                    f"{self.who} did not answer within {self.settings.first_token_timeout:g} s"
                ),
                retryable=False,
            ) from None
        except httpx.ConnectError as exc:
            unavailable = UpstreamUnavailable(
                f"{self.who} could not be reached ({describe_error(exc)})",
                retry_after=max(1, math.ceil(self.settings.backoff_seconds)),
            )
            raise Failure(unavailable, retryable=True) from exc
        except httpx.TransportError as exc:
            error = UpstreamError(f"{self.who} failed ({describe_error(exc)})")
            raise Failure(error, retryable=True) from exc
        if response.status_code >= 400:
            await response.aread()
            await response.aclose()
            raise self._status_failure(response)
        return response, _events(response)

    def _status_failure(self, response: httpx.Response) -> Failure:
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        return status_failure(self.who, response.status_code, _message(response), retry_after,
                              self.settings.backoff_seconds)  # fmt: skip


async def _events(response: httpx.Response) -> AsyncIterator[Any]:
    """The JSON of each ``data:`` event, up to ``[DONE]``."""
    async for line in response.aiter_lines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            yield json.loads(data)
        except ValueError:
            raise UpstreamError(f"SGLang sent an event that is not JSON: {data[:200]!r}") from None


def _take(generation: Generation, event: Any) -> list[int]:
    """Fold one event into ``generation``; return the ids it added."""
    if not isinstance(event, dict):
        raise UpstreamError(f"SGLang sent an event that is not an object: {event!r:.200}")
    if "error" in event:
        error = event["error"]
        message = error.get("message") if isinstance(error, dict) else error
        raise UpstreamError(f"SGLang failed in the middle of the generation: {message}")
    ids = [int(i) for i in event.get("output_ids") or []]
    meta = event.get("meta_info") or {}
    total = int(meta.get("completion_tokens", len(generation.ids) + len(ids)))
    cumulative = len(ids) == total and len(ids) >= len(generation.ids)
    new = ids[len(generation.ids) :] if cumulative else ids
    generation.ids.extend(new)
    generation.meta_info = meta
    if meta.get("finish_reason"):
        generation.finish_reason = meta["finish_reason"]
    return new


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
        if body.get("message"):
            return str(body["message"])
    return json.dumps(body)[:300]
