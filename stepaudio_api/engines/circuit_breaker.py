"""A circuit breaker for a remote engine: after repeated failures, refuse at once for a while
instead of making every request wait for an upstream that is down."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Literal


class CircuitBreaker:
    """Closed: calls go through. Open: refused at once. Half-open: one trial call decides."""

    def __init__(
        self,
        failures: int,
        reset_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failures_to_open = failures
        self.reset_seconds = reset_seconds
        self._clock = clock
        self.state: Literal["closed", "open", "half-open"] = "closed"
        self.consecutive_failures = 0
        self._opened_at = 0.0
        self._trial_running = False

    def retry_after(self) -> int:
        """Whole seconds until a trial call is let through."""
        remaining = self._opened_at + self.reset_seconds - self._clock()
        return max(1, math.ceil(remaining))

    def admit(self) -> bool:
        """Whether a call may go out now; a call admitted while half-open is the trial."""
        if self.state == "open":
            if self._clock() < self._opened_at + self.reset_seconds:
                return False
            self.state = "half-open"
        if self.state == "half-open":
            if self._trial_running:
                return False
            self._trial_running = True
        return True

    def succeeded(self) -> None:
        self.state = "closed"
        self.consecutive_failures = 0
        self._trial_running = False

    def failed(self) -> None:
        self.consecutive_failures += 1
        self._trial_running = False
        if self.state == "half-open" or self.consecutive_failures >= self.failures_to_open:
            self.state = "open"
            self._opened_at = self._clock()

    def abandoned(self) -> None:
        """The call was given up by its caller: no verdict on the upstream."""
        self._trial_running = False
