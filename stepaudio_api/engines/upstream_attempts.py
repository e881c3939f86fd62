"""What every HTTP upstream client shares (the OpenAI-compatible chat upstream, SGLang's
``/generate``): a failed attempt and whether another may help, the error an HTTP status
becomes, and the loop that retries attempts with backoff behind a circuit breaker."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import TypeVar

from stepaudio_api.engines.circuit_breaker import CircuitBreaker
from stepaudio_api.errors import APIError, InvalidRequest, UpstreamError, UpstreamUnavailable

T = TypeVar("T")

CLIENT_MISTAKES = {400, 404, 413, 422}
"""Statuses that are the client's own mistake (unknown model, bad parameters, too long)."""


class Failure(Exception):
    """A failed attempt: what the client would see, and whether another attempt may help."""

    def __init__(self, error: APIError, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.retryable = retryable
        self.retry_after = retry_after


def status_failure(
    who: str,
    status: int,
    said: str,
    retry_after: float | None,
    backoff_seconds: float,
    param: str | None = None,
    code: str | None = None,
) -> Failure:
    """An error status from ``who``: the client's mistakes a 400, 429 and 503 a 503 to retry
    later, other 5xx a 502 worth another attempt."""
    if status in CLIENT_MISTAKES:
        rejected = InvalidRequest(
            f"{who} rejected the request ({status}): {said}",
            param=param,
            code=code or "upstream_rejected",
        )
        return Failure(rejected, retryable=False)
    message = f"{who} answered {status}: {said}"
    if status in (429, 503):
        seconds = retry_after if retry_after is not None else backoff_seconds
        unavailable = UpstreamUnavailable(message, retry_after=max(1, math.ceil(seconds)))
        return Failure(unavailable, retryable=True, retry_after=retry_after)
    return Failure(UpstreamError(message), retryable=status >= 500, retry_after=retry_after)


async def with_retries(
    attempt: Callable[[], Awaitable[T]],
    breaker: CircuitBreaker,
    who: str,
    max_retries: int,
    backoff_seconds: float,
    longest_wait: float,
) -> T:
    """Run ``attempt`` until it succeeds, fails for good, or ``max_retries`` more have failed;
    waits ``backoff_seconds`` doubled each time (longer if the upstream says Retry-After, up to
    ``longest_wait``, beyond which it gives up at once). ``attempt`` cleans up after itself."""
    tries = 0
    while True:
        if not breaker.admit():
            raise UpstreamUnavailable(
                f"{who} failed {breaker.consecutive_failures} times in a row and is given a "
                f"rest; retry after {breaker.retry_after()} s",
                retry_after=breaker.retry_after(),
            )
        try:
            result = await attempt()
        except Failure as failure:
            breaker.failed()
            delay = backoff_seconds * 2**tries
            if failure.retry_after is not None:
                if failure.retry_after > longest_wait:
                    raise failure.error from None
                delay = max(delay, failure.retry_after)
            if not failure.retryable or tries >= max_retries:
                raise failure.error from None
            tries += 1
            await asyncio.sleep(delay)
            continue
        except BaseException:
            breaker.abandoned()
            raise
        breaker.succeeded()
        return result
