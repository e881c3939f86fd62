"""Text normalisation before synthesis: numbers, dates, times, money and percentages to words.

Each normaliser is total: a piece it cannot read is left as written, never an exception, since
a TTS engine reads digits better than a request fails.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable

logger = logging.getLogger(__name__)

_HAS_DIGIT = re.compile(r"[0-9]")
_THOUSANDS = re.compile(r"(?<=[0-9]),(?=[0-9]{3}(?![0-9]))")
# ASCII look-behinds: CJK characters are word characters too, and "12個" is a number
_NUMBER = re.compile(r"(?<![A-Za-z0-9_.])-?[0-9]+(?:\.[0-9]+)?(?![0-9]|\.[0-9])")


_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


def _guarded(normalize: Callable[[str], str]) -> Callable[[str], str]:
    """Full-width digits read as ASCII ones; a failure leaves the text as it was."""

    def guarded(text: str) -> str:
        try:
            return normalize(text.translate(_FULL_WIDTH_DIGITS))
        except Exception:  # a library's corner case must not cost the request
            logger.warning("normalisation left text unchanged", exc_info=True)
            return text

    guarded.__name__ = normalize.__name__
    guarded.__doc__ = normalize.__doc__
    return guarded


# --- English (num2words) ----------------------------------------------------------------------

_CURRENCIES = {  # symbol: (unit, units, hundredth, hundredths)
    "$": ("dollar", "dollars", "cent", "cents"),
    "€": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "¥": ("yen", "yen", "", ""),
}
_EN_MONEY = re.compile(r"([$€£¥])\s?([0-9]+(?:\.[0-9]{1,2})?)(?![0-9])")
_EN_PERCENT = re.compile(r"(-?[0-9]+(?:\.[0-9]+)?)\s?%")
_EN_ORDINAL = re.compile(r"(?<![\w.])([0-9]+)(st|nd|rd|th)\b", re.IGNORECASE)
_EN_TIME = re.compile(r"(?<![0-9:])([01]?[0-9]|2[0-3]):([0-5][0-9])(?![0-9:])")
_EN_YEAR = re.compile(
    r"(?<![\w$€£¥-])(?<![0-9][.,:])(1[1-9][0-9][0-9]|20[0-9][0-9])(s?)(?![\w%]|[.,:][0-9])"
)


def _en(number: str, **kwargs: object) -> str:
    from num2words import num2words

    value: float | int = float(number) if "." in number else int(number)
    return num2words(value, lang="en", **kwargs)


def _en_money(match: re.Match[str]) -> str:
    unit, units, cent, cents = _CURRENCIES[match.group(1)]
    whole, _, fraction = match.group(2).partition(".")
    spoken = f"{_en(whole)} {unit if int(whole) == 1 else units}"
    hundredths = int(fraction.ljust(2, "0")) if fraction else 0
    if hundredths and cent:
        spoken += f" and {_en(str(hundredths))} {cent if hundredths == 1 else cents}"
    return spoken


def _en_year(match: re.Match[str]) -> str:
    words = _en(match.group(1), to="year")
    if match.group(2):  # the 1990s
        words = words[:-1] + "ies" if words.endswith("y") else words + "s"
    return words


def _en_time(match: re.Match[str]) -> str:
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes == 0:
        return f"{_en(str(hours))} o'clock"
    if minutes < 10:
        return f"{_en(str(hours))} oh {_en(str(minutes))}"
    return f"{_en(str(hours))} {_en(str(minutes))}"


@_guarded
def english(text: str) -> str:
    """Numbers to English words: money, percentages, ordinals, times, years, decimals."""
    if not _HAS_DIGIT.search(text):
        return text
    text = _EN_YEAR.sub(_en_year, text)  # before commas go: "1,500" is no year
    text = _THOUSANDS.sub("", text)
    text = _EN_MONEY.sub(_en_money, text)
    text = _EN_PERCENT.sub(lambda m: f"{_en(m.group(1))} percent", text)
    text = _EN_ORDINAL.sub(lambda m: _en(m.group(1), to="ordinal"), text)
    text = _EN_TIME.sub(_en_time, text)
    return _NUMBER.sub(lambda m: _en(m.group(0)), text)


# --- Chinese: Mandarin, Cantonese, Sichuanese (cn2an) -------------------------------------------

_ZH_DIGITS = "零一二三四五六七八九"
_ZH_DATE = re.compile(r"(?<![0-9])([0-9]{4})[-/.]([0-9]{1,2})[-/.]([0-9]{1,2})(?![0-9])")
_ZH_TIME = re.compile(r"(?<![0-9:])([01]?[0-9]|2[0-3]):([0-5][0-9])(?![0-9:])")
_ZH_NEGATIVE = re.compile(r"(?<![A-Za-z0-9_.])-(?=[0-9])")
_ZH_LONG_DIGITS = re.compile(r"(?<![0-9.])[0-9]{7,}(?![0-9.])")  # phone and id numbers
_ZH_TWO_COUNTED = re.compile(r"(?<![0-9.])2(?=[个本只位次件张条辆杯块台名岁天周种])")


def _digit_by_digit(digits: str) -> str:
    return "".join(_ZH_DIGITS[int(d)] for d in digits)


def _zh_time(match: re.Match[str]) -> str:
    hours, minutes = match.group(1), match.group(2)
    spoken = f"{int(hours)}点"
    if minutes != "00":
        spoken += f"{'零' if minutes.startswith('0') else ''}{int(minutes)}分"
    return spoken


@_guarded
def chinese(text: str) -> str:
    """Arabic numerals to Chinese: dates (年 digit by digit), times, negatives, percentages,
    decimals, long digit strings read one by one, 两 before measure words."""
    if not _HAS_DIGIT.search(text):
        return text
    import cn2an

    text = _THOUSANDS.sub("", text)
    text = _ZH_DATE.sub(lambda m: f"{m.group(1)}年{int(m.group(2))}月{int(m.group(3))}日", text)
    text = _ZH_TIME.sub(_zh_time, text)
    text = _ZH_NEGATIVE.sub("负", text)
    text = _ZH_LONG_DIGITS.sub(lambda m: _digit_by_digit(m.group(0)), text)
    text = _ZH_TWO_COUNTED.sub("两", text)
    with warnings.catch_warnings():  # it warns of what it leaves as it is
        warnings.simplefilter("ignore")
        return cn2an.transform(text, "an2cn")


# --- Japanese and Korean (num2words) ------------------------------------------------------------


def _numbers_in(lang: str, point: str) -> Callable[[str], str]:
    from num2words import num2words

    def spell(match: re.Match[str]) -> str:
        number = match.group(0)
        if "." in number:  # num2words reads the decimals of ja/ko as a whole number
            whole, decimals = number.split(".")
            digits = "".join(num2words(int(d), lang=lang) for d in decimals)
            return f"{num2words(int(whole), lang=lang)}{point}{digits}"
        return num2words(int(number), lang=lang)

    def normalize(text: str) -> str:
        if not _HAS_DIGIT.search(text):
            return text
        return _NUMBER.sub(spell, _THOUSANDS.sub("", text))

    return normalize


@_guarded
def japanese(text: str) -> str:
    """Numbers to Japanese numerals (十二, 二千二十四)."""
    return _numbers_in("ja", "点")(text)


@_guarded
def korean(text: str) -> str:
    """Numbers to Sino-Korean words (십이, 이천이십사)."""
    return _numbers_in("ko", " 점 ")(text)
