"""Dialect packs: a language or dialect's names, its Step-Audio tag, text normalisation, the
words that select it in free-text instructions, and the embedded voice that can speak it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


def _unchanged(text: str) -> str:
    return text


@dataclass(frozen=True, slots=True, repr=False)
class Dialect:
    name: str
    """The canonical id, lower case ASCII: "cantonese", "sichuanese", "mandarin", "english"."""
    language: str
    """Its language code (ISO 639-3 or BCP 47): "yue", "zh", "en"."""
    step_audio_tag: str
    """What Step-Audio-TTS-3B reads, without parentheses: "粤语", "四川话", "中文", "英文"."""
    display_name: str = ""
    aliases: tuple[str, ...] = ()
    """Other names an API field may use: "粤语", "广东话", "Cantonese", "yue", "zh-HK"."""
    selectors: tuple[str, ...] = ()
    """Words or phrases that select it in free-text instructions: "in Cantonese", "用粤语"."""
    normalize: Callable[[str], str] = _unchanged
    """Text normalisation before synthesis (numbers to words, ...)."""
    fallback_voices: tuple[tuple[str, str], ...] = ()
    """(engine type, voice) pairs of embedded engines that speak it, best first."""
    scripts: tuple[str, ...] = ()
    """The Unicode scripts its voices read ("Han", "Latin"), those it is written in first: text
    in a script the requested voice does not read goes to the fallback voice of the first pack
    that reads all of it (``stepaudio_api.serving.scripts``)."""
    step_audio_tag_aliases: tuple[str, ...] = ()
    """Other tags Step-Audio reads as this dialect ("广东话" beside "粤语"): a request that names
    the dialect by one of them gets that tag."""
    acknowledgement: str = ""
    """A short "one moment" in the dialect, spoken while a slow tool runs in a spoken chat
    reply ("請等一等。"); empty: the tool's or the server's own phrase."""
    plugin: str = ""
    """Set by the registry: the plugin that registered it."""
    extra: dict[str, object] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Dialect({self.name!r})"

    def names(self) -> Iterable[str]:
        yield self.name
        yield from self.aliases

    def step_audio_tag_for(self, name: str) -> str:
        """The tag to write when the request named the dialect ``name``."""
        return name if name in self.step_audio_tag_aliases else self.step_audio_tag


class DialectRegistry:
    """The dialects plugins registered; lookup by name or alias, case-insensitively."""

    def __init__(self) -> None:
        self.dialects: dict[str, Dialect] = {}
        self._by_name: dict[str, Dialect] = {}

    def register(self, dialect: Dialect, plugin: str = "") -> None:
        if dialect.name in self.dialects:
            raise ValueError(f"dialect {dialect.name!r} is registered twice")
        if plugin and not dialect.plugin:
            object.__setattr__(dialect, "plugin", plugin)
        for name in dialect.names():
            key = name.strip().casefold()
            other = self._by_name.get(key)
            if other is not None and other.name != dialect.name:
                raise ValueError(f"dialect name {name!r} is claimed by {other.name!r} too")
            self._by_name[key] = dialect
        self.dialects[dialect.name] = dialect

    def find(self, name: str) -> Dialect | None:
        return self._by_name.get(name.strip().casefold())

    def accepted_names(self) -> list[str]:
        return sorted({n for d in self.dialects.values() for n in d.names()})
