"""The worker pool: work runs off the event loop; a full pool refuses at once."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from stepaudio_api.engines.worker_pool import WorkerPool
from stepaudio_api.errors import EngineOverloaded


def test_jobs_run_in_worker_threads() -> None:
    pool = WorkerPool(threads=2, queue_size=0)

    async def main() -> set[str]:
        names = await asyncio.gather(*(pool.run(lambda: threading.current_thread().name)
                                       for _ in range(4)))  # fmt: skip
        return set(names)

    names = asyncio.run(main())
    assert all(n.startswith("stepaudio-engine") for n in names)
    pool.shutdown()


def test_full_pool_refuses_with_retry_after_and_frees_places() -> None:
    pool = WorkerPool(threads=1, queue_size=1, retry_after_seconds=3)

    async def hold(seconds: float) -> None:
        async with pool.reserve():
            await pool.run(time.sleep, seconds)

    async def main() -> None:
        holders = [asyncio.create_task(hold(0.3)) for _ in range(2)]
        await asyncio.sleep(0.05)
        assert pool.active_requests == 2 and pool.queue_depth == 1
        with pytest.raises(EngineOverloaded) as caught:
            async with pool.reserve():
                pass
        assert caught.value.headers["Retry-After"] == "3"
        assert caught.value.status == 503
        await asyncio.gather(*holders)
        assert pool.active_requests == 0
        async with pool.reserve():
            assert pool.active_requests == 1

    asyncio.run(main())
    pool.shutdown()


def test_event_loop_stays_responsive_while_a_job_runs() -> None:
    pool = WorkerPool(threads=1, queue_size=0)

    async def main() -> int:
        ticks = 0
        job = asyncio.create_task(pool.run(time.sleep, 0.3))
        while not job.done():
            ticks += 1
            await asyncio.sleep(0.01)
        return ticks

    assert asyncio.run(main()) >= 10
    pool.shutdown()


def test_iterate_advances_a_blocking_iterator_in_the_pool() -> None:
    pool = WorkerPool(threads=1, queue_size=0)

    def numbers():  # type: ignore[no-untyped-def]
        for i in range(3):
            yield (i, threading.current_thread().name)

    async def main() -> list[tuple[int, str]]:
        return [item async for item in pool.iterate(numbers())]

    items = asyncio.run(main())
    assert [i for i, _ in items] == [0, 1, 2]
    assert all(name.startswith("stepaudio-engine") for _, name in items)
    pool.shutdown()


def test_memory_is_given_back_after_the_last_of_a_burst(monkeypatch: pytest.MonkeyPatch) -> None:
    """The allocator is told to give memory back when the pool falls idle, at most every
    GIVE_BACK_EVERY_SECONDS: the idle moment after a burst's last request is not skipped."""
    from stepaudio_api.engines import worker_pool

    given: list[float] = []
    monkeypatch.setattr(worker_pool, "give_back", lambda: given.append(time.monotonic()))
    monkeypatch.setattr(worker_pool, "GIVE_BACK_EVERY_SECONDS", 0.3)
    pool = WorkerPool(threads=1, queue_size=0)

    async def burst() -> float:
        for _ in range(5):  # five requests in well under 0.3 s
            async with pool.reserve():
                await pool.run(time.sleep, 0.01)
        last = time.monotonic()
        await asyncio.sleep(0.6)
        return last

    last = asyncio.run(burst())
    pool.shutdown()
    assert len(given) == 2, given  # the first idle moment, then once after the last request
    assert given[1] >= last and given[1] - given[0] >= 0.29
