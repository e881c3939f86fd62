"""Text made fit to be spoken: what no engine can read is taken out before any engine sees it.

JSON lets a client send any code point: NUL and the other control characters, which crash
espeak-ng's phonemiser (Piper's too), and lone surrogates (``"\\ud800"``), which cannot even be
encoded as UTF-8. Speech, chat and realtime all speak through ``SpeechPlan.normalize``, which
calls this, so every engine, plugins' included, gets clean text.
"""

from __future__ import annotations

_CONTROLS = [*range(0x00, 0x09), *range(0x0E, 0x20), *range(0x7F, 0x85), *range(0x86, 0xA0)]
_PLANE_ENDS = [plane << 16 | low for plane in range(1, 17) for low in (0xFFFE, 0xFFFF)]
_NONCHARACTERS = [0xFEFF, 0xFFF9, 0xFFFA, 0xFFFB, 0xFFFE, 0xFFFF, *_PLANE_ENDS]
_SPEAKABLE = str.maketrans(
    {0x09: " ", 0x0B: " ", 0x0C: " ", 0x85: "\n", 0x2028: "\n", 0x2029: "\n"}
    | dict.fromkeys([*_CONTROLS, *range(0xD800, 0xE000), *_NONCHARACTERS])
)
"""Whitespace controls become spaces or newlines (the words they parted stay apart); other
controls (C0, C1), surrogates, the byte-order mark and non-characters go."""


def speakable(text: str) -> str:
    """``text`` as an engine can read it."""
    if text.isascii() and text.isprintable():
        return text
    return text.translate(_SPEAKABLE)
