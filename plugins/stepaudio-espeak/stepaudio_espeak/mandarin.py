"""Mandarin for espeak-ng: Hanzi to pinyin with tone numbers, read by its pinyin voice.

espeak-ng reads Hanzi through a per-character dictionary, so a polyphone gets one reading
whatever the word: of 40 common polyphone words (银行, 还书, 睡觉, 音乐, 一个, 不要, ...) its
`cmn-latn-pinyin` voice read 17 right from Hanzi and 36 right from pypinyin's pinyin, which
picks the reading by phrase (README.md, "Why pinyin"). Its plain `cmn` voice is worse still:
it reads the tone digits of its own dictionary as English numbers ("ni three").
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_FULL_WIDTH = str.maketrans("，。！？；：、（）“”‘’《》【】…", ',.!?;:,()""\'\'""[].')
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([,.!?;:)\]])")


@cache
def _pinyin() -> Any:
    # imported on first use: pypinyin's phrase tables take ~55 MB and 0.15 s to load
    from pypinyin import Style, lazy_pinyin

    return lambda text: lazy_pinyin(text, style=Style.TONE3)


def load() -> None:
    """Load pypinyin's tables now (engine load), not in the first request."""
    _pinyin()


def to_pinyin(text: str) -> str:
    """``我们去银行。`` -> ``wo3 men qu4 yin2 hang2.``: syllables with tone numbers (none for
    the neutral tone), separated by spaces; Latin words and digits are kept for espeak-ng
    (it reads digits in Mandarin and switches to English for English words)."""
    if not _HAN.search(text):
        return text.translate(_FULL_WIDTH)
    spoken = " ".join(_pinyin()(text)).translate(_FULL_WIDTH)
    return " ".join(_SPACE_BEFORE_PUNCTUATION.sub(r"\1", spoken).split())
