"""The writing systems of a text: runs of Han, Kana, Hangul, Latin, ... by Unicode's Script
property (through the ``regex`` package), and which scripts a language is written in.

Speech uses it to tell whether a voice can read a text at all: an English voice given 今天天气很好
spells out "Chinese letter" six times, so serving sends such text to a voice that reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import regex

SCRIPTS = ("Latin", "Han", "Hiragana", "Katakana", "Hangul", "Cyrillic", "Greek", "Arabic",
           "Hebrew", "Devanagari", "Bengali", "Tamil", "Telugu", "Thai", "Lao", "Khmer",
           "Myanmar", "Georgian", "Armenian", "Ethiopic", "Tibetan", "Mongolian",
           "Bopomofo")  # fmt: skip
"""The scripts told apart (Unicode names, as ``regex``'s ``\\p{Script=...}`` spells them); a
letter of any other script is "Other"."""
OTHER = "Other"

_LETTER = r"[\p{L}\p{M}\p{Nl}]"
_LETTERS = regex.compile(
    "|".join(f"(?P<{name}>[\\p{{Script={name}}}&&{_LETTER}]+)" for name in SCRIPTS)
    + r"|(?P<Other>[[\p{L}\p{Nl}]--\p{Script=Common}--\p{Script=Inherited}]+)",
    regex.VERSION1,
)
"""Letters (and the marks on them) by script. Digits, punctuation, spaces, symbols and the
letters Unicode gives to no one script (Common, Inherited: the Kana length mark ー,
mathematical letters) belong to no run: any voice reads them, or the run around them."""

WRITTEN_IN: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("en", "fr", "de", "es", "it", "pt", "nl", "sv", "da", "no", "nb", "fi",
                     "pl", "cs", "sk", "hu", "ro", "tr", "vi", "id", "ms", "ca", "eu"),
                    ("Latin",)),
    **dict.fromkeys(("ru", "uk", "bg", "sr", "mk", "be", "kk"), ("Cyrillic", "Latin")),
    "el": ("Greek", "Latin"),
    "ar": ("Arabic",), "fa": ("Arabic",), "ur": ("Arabic",), "he": ("Hebrew",),
    "hi": ("Devanagari", "Latin"), "mr": ("Devanagari",), "ne": ("Devanagari",),
    "bn": ("Bengali",), "ta": ("Tamil",), "te": ("Telugu",), "th": ("Thai",),
}  # fmt: skip
"""The scripts a voice of a language reads, for languages no dialect pack describes (a pack's
``scripts`` say it for its own). Latin beside another script: espeak-ng's voices of those
languages switch to English for Latin words."""


@dataclass(frozen=True, slots=True)
class ScriptRun:
    script: str
    start: int
    end: int
    """``text[start:end]`` is the run's letters."""


def script_runs(text: str) -> list[ScriptRun]:
    """The runs of letters of one script each, in order: ``"Hi 你好"`` is Latin 0-2, Han 3-5."""
    runs: list[ScriptRun] = []
    for match in _LETTERS.finditer(text):
        script = match.lastgroup or OTHER
        if runs and runs[-1].script == script:
            runs[-1] = ScriptRun(script, runs[-1].start, match.end())
        else:
            runs.append(ScriptRun(script, match.start(), match.end()))
    return runs


def scripts_of(text: str) -> frozenset[str]:
    """The scripts ``text``'s letters are written in (none for digits and punctuation alone)."""
    if text.isascii():
        return frozenset({"Latin"}) if any(c.isalpha() for c in text) else frozenset()
    return frozenset(run.script for run in script_runs(text))


@cache
def _primary(language: str) -> str:
    return language.replace("_", "-").split("-")[0].casefold()


def written_in(language: str) -> tuple[str, ...] | None:
    """The scripts a voice of ``language`` (BCP 47) reads, from the table above; None: not
    known here."""
    return WRITTEN_IN.get(_primary(language))
