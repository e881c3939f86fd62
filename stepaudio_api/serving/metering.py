"""One request's metering: admit it against the caller's quota, measure it, finish its record."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import aclosing, asynccontextmanager
from dataclasses import asdict, replace
from typing import Any

from stepaudio_api.errors import QuotaExceeded
from stepaudio_api.metrics import Metrics
from stepaudio_api.serving.byte_stream import ByteStream
from stepaudio_api.store.api_keys import Caller
from stepaudio_api.store.tables import utc_now
from stepaudio_api.store.usage import Measured, Refusal, UsageLedger, seconds_to_next_month

logger = logging.getLogger(__name__)
FINISH_RETRIES = (0.5, 1, 2, 4, 8, 15, 30, 30, 60, 60, 60)
"""Seconds between tries to finish a usage record the database did not take (about 4.5 min)."""


class BackgroundWrites:
    """Record writes that must finish even when the request's task is being cancelled."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[None]] = set()

    def spawn(self, write: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(write)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def drain(self, within_seconds: float | None = None) -> None:
        """Wait for the writes in flight (at most ``within_seconds``: a store that is away
        keeps its records reserved, marked interrupted at the next start)."""
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=within_seconds)


def _refusal_message(refusal: Refusal, caller: Caller) -> str:
    unit = "characters" if refusal.quota == "characters" else "seconds of audio"
    return (
        f"You exceeded your current quota: the key '{caller.name}' may use {refusal.limit:g} "
        f"{unit} a month, has used {refusal.used:g}, and this request needs "
        f"{refusal.requested:g}. Ask an admin to raise the key's quota."
    )


class RequestMeter:
    """Serving calls `admit` before engine work; `track` wraps the response stream and writes
    the outcome into the request's single usage record before its last bytes are sent."""

    def __init__(
        self,
        ledger: UsageLedger,
        metrics: Metrics,
        writes: BackgroundWrites,
        caller: Caller,
        request_id: str,
        capability: str,
        observers: Callable[[dict[str, Any]], Awaitable[Any]] | None = None,
    ) -> None:
        self.observers = observers
        """Called with each finished record (the `usage_recorded` plugin hook)."""
        self.ledger = ledger
        self.metrics = metrics
        self.writes = writes
        self.caller = caller
        self.request_id = request_id
        self.capability = capability
        self.measured = Measured()
        self.model = ""
        self.outcome = "completed"
        """The status a stream that ends normally is recorded with: serving sets "failed"
        when it had to report an error inside a stream whose status line had gone."""
        self.admitted = False
        self.started = time.perf_counter()

    async def admit(self, model: str, characters: int = 0, audio_seconds: float = 0.0) -> None:
        refusal = await self.ledger.admit(
            self.request_id, self.caller.key_id, model, self.capability, characters, audio_seconds
        )
        if refusal is not None:
            self.metrics.quota_refusals.labels(refusal.quota).inc()
            message = _refusal_message(refusal, self.caller)
            raise QuotaExceeded(message, retry_after=seconds_to_next_month(utc_now()))
        self.model = model
        self.admitted = True

    async def _finish(self, status: str, refund: bool) -> None:
        if not self.admitted:
            return
        self.admitted = False
        latency_ms = (time.perf_counter() - self.started) * 1000
        measured = self.measured
        self.metrics.metered.labels(self.capability, status).inc()
        self.metrics.audio_seconds.labels(self.capability, "in").inc(measured.audio_seconds_in)
        self.metrics.audio_seconds.labels(self.capability, "out").inc(measured.audio_seconds_out)
        self.metrics.characters.labels(self.model).inc(measured.input_characters)
        if not await self._write(status, latency_ms, refund):
            # the record stays `reserved` until it can be written (finishing twice changes
            # nothing: only a reserved record is finished)
            self.writes.spawn(self._finish_later(status, latency_ms, refund))

    async def _write(self, status: str, latency_ms: float, refund: bool) -> bool:
        """Finish the record in the store (then tell the plugins); False if the store did not
        take it."""
        measured = self.measured
        try:
            await self.ledger.finish(self.request_id, status, measured, latency_ms, refund)
        except Exception as exc:
            logger.warning("usage record %s not finished yet: %s", self.request_id, exc)
            return False
        if self.observers is not None:
            record = {
                "request_id": self.request_id, "key_id": self.caller.key_id,
                "model": self.model, "capability": self.capability, "status": status,
                **asdict(measured), "latency_ms": round(latency_ms, 2),
            }  # fmt: skip
            await self.observers(record)
        return True

    async def _finish_later(self, status: str, latency_ms: float, refund: bool) -> None:
        """Keep trying to finish the record while the database is away (a restart); if it
        never comes back, the record is left `reserved` and marked interrupted at the next
        start, keeping its charge."""
        for wait in FINISH_RETRIES:
            await asyncio.sleep(wait)
            if await self._write(status, latency_ms, refund):
                logger.info("usage record %s finished after a retry", self.request_id)
                return
        logger.error("usage record %s could not be finished; it stays reserved",
                     self.request_id)  # fmt: skip

    async def finish(self, status: str = "completed") -> None:
        """Finish a long-lived request (a realtime session) with what it measured."""
        await self._finish(status, refund=False)

    def _finish_in_background(self, status: str, refund: bool) -> None:
        self.writes.spawn(self._finish(status, refund))

    @asynccontextmanager
    async def measuring(self) -> AsyncIterator[RequestMeter]:
        """Meter a request answered in one piece: its record is finished before the answer."""
        try:
            yield self
        except BaseException:
            self._finish_in_background("failed", refund=True)
            raise
        await self._finish("completed", refund=False)

    def track(self, stream: ByteStream) -> ByteStream:
        return replace(stream, chunks=self._tracked(stream))

    async def _tracked(self, stream: ByteStream) -> AsyncIterator[bytes]:
        sent = False
        try:
            async with aclosing(stream.chunks) as chunks:  # type: ignore[type-var]
                pending = await anext(chunks, None)
                if not stream.whole and pending is not None:
                    # the first bytes go out at once; later ones one chunk behind, so that
                    # the record is finished before the last bytes leave
                    sent = True
                    yield pending
                    pending = await anext(chunks, None)
                    while pending is not None:
                        following = await anext(chunks, None)
                        if following is None:
                            break
                        yield pending
                        pending = following
                await self._finish(self.outcome, refund=False)
                if pending is not None:
                    yield pending
        except (asyncio.CancelledError, GeneratorExit):
            # the client went away: charge what was started, give back what never began
            self._finish_in_background("cancelled", refund=not sent)
            raise
        except BaseException:
            self._finish_in_background("failed", refund=True)
            raise
