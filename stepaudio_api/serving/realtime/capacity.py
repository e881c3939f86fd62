"""How many conversations this server can answer, and whether it answers them now.

Two measures, both checked before a session starts, so a conversation the server cannot
answer is refused at once (an error event, then close 1013 "try again later") rather than
accepted and left waiting:

- a limit on open sessions: ``realtime.max_sessions``, or with 0 ``realtime.sessions_per_core``
  times the machine's cores, a figure measured by bench/realtime_capacity.py --capacity for
  the engines configured by default (the most sessions with 95% of turns answered within
  1.5 s);
- the answers themselves: every turn's time from its end (speech_stopped) to the first word
  or sound of its answer (for a turn whose answer never began, the time it waited until the
  next turn or the end of its response); when in the last ``WINDOW_SECONDS`` the 95th
  percentile is over ``realtime.answer_within_seconds`` while other conversations are open,
  the server is behind, and new sessions wait until it has caught up (``realtime.shed_load``).
  A lone conversation is never refused on this count: it is the only load there is.
"""

from __future__ import annotations

import math
import os
import time
from collections import deque

from stepaudio_api.errors import APIError
from stepaudio_api.settings import RealtimeSettings

WINDOW_SECONDS = 30.0
MIN_SAMPLES = 10
"""Turns needed in the window before the server judges itself behind."""


class ServerAtCapacity(APIError):
    status = 503
    type = "server_error"

    def __init__(self, message: str) -> None:
        super().__init__(message, code="server_at_capacity", headers={"Retry-After": "5"})


class RealtimeCapacity:
    def __init__(self, settings: RealtimeSettings, cores: int | None = None) -> None:
        cores = cores or len(os.sched_getaffinity(0))
        self.limit = settings.max_sessions or max(1, math.floor(settings.sessions_per_core * cores))
        self.target = settings.answer_within_seconds
        self.shed_load = settings.shed_load
        self.open = 0
        self._turns: deque[tuple[float, float]] = deque()
        """(when, seconds to its answer) of recent turns."""

    def check(self) -> None:
        """Before a session starts: refuse it when the server cannot answer one more."""
        if self.open >= self.limit:
            raise ServerAtCapacity(
                f"This server answers at most {self.limit} realtime conversations at once "
                f"(realtime.max_sessions) and all are open; try again in a few seconds"
            )
        p95 = self.recent_p95() if self.shed_load and self.open else None
        if p95 is not None and p95 > self.target:
            raise ServerAtCapacity(
                f"This server is behind: the last turns of its {self.open} conversations took "
                f"up to {p95:.1f} s to be answered (95th percentile), where {self.target:g} s "
                "is its aim (realtime.answer_within_seconds); try again in a few seconds"
            )

    def describe(self) -> dict[str, object]:
        """For /ready: open sessions, the limit, and how recent turns were answered."""
        p95 = self.recent_p95()
        return {"sessions": self.open, "max_sessions": self.limit,
                "recent_turns": len(self._recent()),
                "answer_p95_seconds": None if p95 is None else round(p95, 3)}  # fmt: skip

    def answered(self, seconds: float) -> None:
        """A turn's answer began ``seconds`` after the turn ended (or the turn waited that
        long and none came)."""
        now = time.monotonic()
        self._turns.append((now, seconds))
        while self._turns and self._turns[0][0] < now - WINDOW_SECONDS:
            self._turns.popleft()

    def recent_p95(self) -> float | None:
        """The 95th percentile of recent turns' answer times; None while there are too few to
        judge."""
        recent = sorted(self._recent())
        if len(recent) < MIN_SAMPLES:
            return None
        return recent[math.ceil(0.95 * len(recent)) - 1]

    def _recent(self) -> list[float]:
        since = time.monotonic() - WINDOW_SECONDS
        return [seconds for when, seconds in self._turns if when >= since]
