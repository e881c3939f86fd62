"""Keeping the process's resident memory to what it uses: glibc's allocator keeps what
requests freed (a 10-minute recording decodes to some 40 MB of samples, many threads get
arenas of their own) unless told to give it back. ``limit_arenas`` at start and
``give_back`` after big jobs keep the embedded server under 1 GB through long runs."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from functools import cache

logger = logging.getLogger(__name__)
M_ARENA_MAX = -8
ARENAS = 2
"""Arenas glibc may make (default: 8 a core): the inference threads share these two."""


@cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        libc.malloc_trim  # noqa: B018 - glibc only (not musl, not macOS)
        libc.mallopt  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


def limit_arenas() -> None:
    """Before the threads start: at most ARENAS malloc arenas."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(M_ARENA_MAX, ARENAS)


def give_back() -> None:
    """Return freed memory to the system (a few ms; run in a worker thread)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
