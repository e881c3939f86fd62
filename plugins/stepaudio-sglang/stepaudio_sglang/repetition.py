"""Step-Audio-TTS-3B's repetition rule (``RepetitionAwareLogitsProcessor`` in its ``tts.py``):
over the last 10 ids of the sequence (prompt and output together), when the last id's share
is over 0.1, that id may not come next. Below 10 ids nothing is banned."""

from __future__ import annotations

from collections.abc import Sequence

WINDOW = 10
THRESHOLD = 0.1


def banned_id(ids: Sequence[int]) -> int | None:
    """The id that may not be sampled next, or None."""
    if len(ids) < WINDOW:
        return None
    window = list(ids[-WINDOW:])
    last = window[-1]
    return last if window.count(last) / WINDOW > THRESHOLD else None
