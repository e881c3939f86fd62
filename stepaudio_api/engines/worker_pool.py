"""The bounded pool CPU inference runs in: threads off the event loop, and a capped waiting line."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from stepaudio_api.errors import EngineOverloaded
from stepaudio_api.memory import give_back

T = TypeVar("T")
GIVE_BACK_EVERY_SECONDS = 2.0
_DONE = object()


class WorkerPool:
    """At most ``threads + queue_size`` requests hold a place; the rest are refused at once.

    onnxruntime and CTranslate2 release the GIL, so threads give real parallelism.
    """

    def __init__(self, threads: int, queue_size: int, retry_after_seconds: int = 1) -> None:
        self.threads = threads
        self.capacity = threads + queue_size
        self.retry_after_seconds = retry_after_seconds
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="stepaudio-engine")
        self.active_requests = 0
        self.running_jobs = 0
        self._last_give_back = 0.0
        self._deferred: asyncio.TimerHandle | None = None

    @property
    def queue_depth(self) -> int:
        """Requests holding a place beyond the number of threads."""
        return max(0, self.active_requests - self.threads)

    @asynccontextmanager
    async def reserve(self) -> AsyncIterator[None]:
        if self.active_requests >= self.capacity:
            raise EngineOverloaded(
                f"the server is busy: all {self.threads} inference threads are working and "
                f"{self.capacity - self.threads} requests are already waiting; retry shortly",
                retry_after=self.retry_after_seconds,
            )
        self.active_requests += 1
        try:
            yield
        finally:
            self.active_requests -= 1
            if self.active_requests == 0:
                self._idle()

    def _idle(self) -> None:
        """Nothing is running: give the memory the last work freed back to the system (at
        most every few seconds, in a worker thread, not on the event loop). Too soon after
        the last time, it is done once that wait is over, if the pool is idle then: a burst
        of short requests would otherwise leave what its last ones freed held."""
        now = time.monotonic()
        wait = self._last_give_back + GIVE_BACK_EVERY_SECONDS - now
        if wait <= 0:
            self._last_give_back = now
            self._executor.submit(give_back)
        elif self._deferred is None:
            self._deferred = asyncio.get_running_loop().call_later(wait, self._idle_again)

    def _idle_again(self) -> None:
        self._deferred = None
        if self.active_requests == 0 and self.running_jobs == 0:
            self._idle()

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        self.running_jobs += 1
        try:
            return await loop.run_in_executor(
                self._executor, functools.partial(fn, *args, **kwargs)
            )
        finally:
            self.running_jobs -= 1
            if self.running_jobs == 0 and self.active_requests == 0:
                self._idle()  # realtime turns hold no request place: their jobs count

    async def iterate(self, iterator: Iterator[T]) -> AsyncIterator[T]:
        """Advance a blocking iterator one item per job, so other requests interleave."""
        while True:
            item = await self.run(next, iterator, _DONE)
            if item is _DONE:
                return
            yield item  # type: ignore[misc]

    def shutdown(self) -> None:
        if self._deferred is not None:
            self._deferred.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)
