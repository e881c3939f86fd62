"""Free-text ``instructions`` in English and Chinese ("cheerful and a bit slow, in Cantonese",
"用四川话，开心一点", "rap this") read into emotion, intensity, speed, dialect and mode.

One compiled regular expression (a trie of every known word, the registered dialects' names
and selectors included) finds the words in a single pass; modifiers ("a bit", "very", "一点",
"非常") and negations ("not", "不") bind to the word next to them. Contradictions are a 400.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from stepaudio_api.errors import InvalidRequest
from stepaudio_api.extensions.dialects import Dialect
from stepaudio_api.serving.instruction_words import (
    EMOTION_WORDS,
    MODE_WORDS,
    MODIFIERS,
    NEGATIONS,
    SPEED_BY_STRENGTH,
    SPEED_WORDS,
)

Kind = Literal["emotion", "speed", "mode", "dialect", "modifier", "negation"]


@dataclass(frozen=True, slots=True)
class ParsedInstructions:
    """What the instructions asked for; None where they said nothing."""

    emotion: str | None = None
    intensity: int | None = None
    dialect: Dialect | None = None
    dialect_tag: str | None = None
    speed: float | None = None
    mode: str | None = None
    problems: dict[str, InvalidRequest] = field(default_factory=dict)
    """Contradictions and impossible values, by the request field that would settle them: an
    explicit field wins over the instructions, so each is raised only if that field is unset."""


@dataclass(frozen=True, slots=True)
class _Word:
    kind: Kind
    value: Any = None
    """emotion or mode name, speed direction (-1 or 1), the Dialect."""
    strength: int = 0
    """an emotion word's own intensity, a modifier's, or a speed word's."""
    attach: str = "pre"
    """modifiers: "pre" binds to the next word, "post" to the previous ("开心一点")."""
    tag: str | None = None


@dataclass(frozen=True, slots=True)
class _Hit:
    start: int
    end: int
    word: _Word


_BINDING_WORD_KINDS = ("emotion", "speed", "mode", "dialect")
_CLAUSE_BREAK = re.compile(r"[,.;:!?，。；：！？、]|\band\b|\bbut\b|\bor\b")
_MAX_ASCII_GAP = 8  # "a bit more cheerful", "not too happy"
_MAX_CJK_GAP = 1  # "非常地开心"
_INTENSITY_NUMBER = re.compile(
    r"(?:intensity|level|strength|强度|程度|等级)\s*[:：=]?\s*(\d+)|(\d+)\s*(?:/\s*5|级)"
)
_SPEED_NUMBER = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*(?:x(?![a-z])|×|倍速|倍)")
_ASCII_WORD_CHAR = re.compile(r"[a-z0-9]")


def _boundary(char: str) -> bool:
    return bool(_ASCII_WORD_CHAR.fullmatch(char))


def _trie_pattern(words: Iterable[str]) -> str:
    """One alternation as a trie, longest match first, ASCII words matched whole only (CJK
    characters count as word characters, so ``\\b`` cannot be used: "用Cantonese")."""
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = True

    def branch(node: dict[str, Any], last: str) -> str:
        alternatives = [
            re.escape(char) + branch(child, char) for char, child in sorted(node.items()) if char
        ]
        if "" in node:
            alternatives.append("(?![a-z0-9])" if _boundary(last) else "")
        if len(alternatives) == 1:
            return alternatives[0]
        return "(?:" + "|".join(alternatives) + ")"

    heads = [
        ("(?<![a-z0-9])" if _boundary(char) else "") + re.escape(char) + branch(child, char)
        for char, child in sorted(root.items())
    ]
    return "|".join(heads)


def _normal(text: str) -> str:
    return " ".join(text.casefold().split())


def _vocabulary(dialects: Iterable[Dialect]) -> dict[str, _Word]:
    words: dict[str, _Word] = {}
    for dialect in dialects:
        names = [*dialect.selectors, *dialect.aliases, dialect.step_audio_tag]
        for name in names:
            # codes ("yue", "en") and short Latin names are API values, not free-text words
            if name.isascii() and (len(name) < 5 or not name.replace(" ", "").isalpha()):
                continue
            tag = next((t for t in dialect.step_audio_tag_aliases if t in name), None)
            words[_normal(name)] = _Word("dialect", dialect, tag=tag)
    for name, (emotion, strength) in EMOTION_WORDS.items():
        words[_normal(name)] = _Word("emotion", emotion, strength)
    for name, (direction, strength) in SPEED_WORDS.items():
        words[_normal(name)] = _Word("speed", direction, strength)
    for name, mode in MODE_WORDS.items():
        words[_normal(name)] = _Word("mode", mode)
    for name, (strength, attach) in MODIFIERS.items():
        words[_normal(name)] = _Word("modifier", strength=strength, attach=attach)
    for name in NEGATIONS:
        words[_normal(name)] = _Word("negation")
    return words


class InstructionParser:
    def __init__(self, dialects: Iterable[Dialect]) -> None:
        self.words = _vocabulary(dialects)
        self.pattern = re.compile(_trie_pattern(self.words))

    def parse(self, instructions: str) -> ParsedInstructions:
        text = _normal(instructions)
        hits = [
            _Hit(m.start(), m.end(), self.words[m.group()]) for m in self.pattern.finditer(text)
        ]
        emotions: dict[str, int] = {}
        speeds: list[float] = []
        modes: list[str] = []
        dialects: dict[str, tuple[Dialect, str | None]] = {}
        for index, hit in enumerate(hits):
            word = hit.word
            if word.kind not in _BINDING_WORD_KINDS:
                continue
            strength, negated = self._bound(text, hits, index)
            if word.kind == "emotion":
                emotion, intensity = word.value, strength or word.strength
                if negated:
                    if emotion != "happy":  # "don't be angry" asks for nothing
                        continue
                    emotion, intensity = "sad", 2  # "not happy", "不太高兴"
                emotions[emotion] = max(emotions.get(emotion, 0), intensity)
            elif negated:
                continue
            elif word.kind == "speed":
                speeds.append(SPEED_BY_STRENGTH[word.value][strength or word.strength])
            elif word.kind == "mode":
                modes.append(word.value)
            elif word.kind == "dialect":
                dialect = word.value
                if dialect.name not in dialects or word.tag:
                    dialects[dialect.name] = (dialect, word.tag)
        return self._decide(text, emotions, speeds, modes, dialects)

    @staticmethod
    def _bound(text: str, hits: list[_Hit], index: int) -> tuple[int, bool]:
        """The strength of the modifiers next to hits[index] and whether it is negated."""
        strength, negated = 0, False
        after = hits[index]
        for before in reversed(hits[:index]):  # "not very", "a bit more"
            if before.word.kind not in ("modifier", "negation"):
                break
            if not _close(text, before, after):
                break
            if before.word.kind == "negation":
                negated = True
            elif before.word.attach in ("pre", "both"):
                strength = max(strength, before.word.strength)
            after = before
        if index + 1 < len(hits):  # "开心一点", "快一点", "开心极了"
            following = hits[index + 1]
            if (
                following.word.kind == "modifier"
                and following.word.attach in ("post", "both")
                and following.start - hits[index].end <= _MAX_CJK_GAP
            ):
                strength = max(strength, following.word.strength)
        return strength, negated

    @staticmethod
    def _decide(
        text: str,
        emotions: dict[str, int],
        speeds: list[float],
        modes: list[str],
        dialects: dict[str, tuple[Dialect, str | None]],
    ) -> ParsedInstructions:
        problems: dict[str, InvalidRequest] = {}
        if len(emotions) > 1:
            found = sorted(emotions)
            problems["emotion"] = _contradiction("emotions", found, "happy, angry, sad or coy")
        if len(set(modes)) > 1:
            found = sorted(set(modes))
            problems["style"] = _contradiction("styles", found, "speak, sing, rap or hum")
        if len(dialects) > 1:
            problems["dialect"] = _contradiction("languages or dialects", sorted(dialects), "one")
        if speeds and min(speeds) < 1.0 < max(speeds):
            problems["speed"] = _contradiction("speeds", ["slower", "faster"], "one")
        speed = max(speeds, key=lambda s: abs(s - 1.0)) if speeds else None
        if (number := _SPEED_NUMBER.search(text)) is not None:
            speed = float(number.group(1))
            if not 0.25 <= speed <= 4.0:
                problems["speed"] = InvalidRequest(
                    f"'instructions' ask for speed {speed:g}; speed must be 0.25 to 4.0",
                    param="instructions",
                    code="invalid_speed",
                )
        emotion, intensity = next(iter(emotions.items()), (None, None))
        if emotion is not None and (number := _INTENSITY_NUMBER.search(text)) is not None:
            intensity = int(number.group(1) or number.group(2))
            if not 1 <= intensity <= 5:
                problems["emotion_intensity"] = InvalidRequest(
                    f"'instructions' ask for intensity {intensity}; intensity is 1 to 5",
                    param="instructions",
                    code="invalid_emotion_intensity",
                )
        dialect, tag = next(iter(dialects.values()), (None, None))
        mode = modes[0] if modes else None
        return ParsedInstructions(emotion, intensity, dialect, tag, speed, mode, problems)


def _close(text: str, before: _Hit, after: _Hit) -> bool:
    gap = text[before.end : after.start]
    if _CLAUSE_BREAK.search(gap):
        return False
    limit = _MAX_ASCII_GAP if text[before.end - 1].isascii() else _MAX_CJK_GAP
    return len(gap.strip()) <= limit


def _contradiction(what: str, found: list[str], accepted: str) -> InvalidRequest:
    return InvalidRequest(
        f"'instructions' ask for more than one of the {what}: {' and '.join(found)}. "
        f"Ask for {accepted}.",
        param="instructions",
        code="contradictory_instructions",
    )
