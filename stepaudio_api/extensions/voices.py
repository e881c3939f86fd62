"""Voice packs: named voices that plugins add, each a preset of an engine type (with its own
language and description) or a reference clip for engines that clone."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class PackVoice:
    name: str
    engine_type: str
    """The registered engine type that speaks it ("piper", "espeak-ng", "step-audio")."""
    preset: str | None = None
    """The engine's own voice it uses (for preset voices)."""
    language: str = ""
    description: str = ""
    reference_audio: Path | None = None
    """For cloning engines: the clip to clone, and what is said in it."""
    transcript: str | None = None
    plugin: str = ""


class VoicePackRegistry:
    def __init__(self) -> None:
        self.voices: dict[str, PackVoice] = {}

    def register(self, voice: PackVoice, plugin: str = "") -> None:
        if voice.name in self.voices:
            raise ValueError(f"voice {voice.name!r} is registered twice")
        if voice.preset is None and voice.reference_audio is None:
            raise ValueError(f"voice {voice.name!r} needs a preset or a reference_audio")
        if plugin and not voice.plugin:
            object.__setattr__(voice, "plugin", plugin)
        self.voices[voice.name] = voice

    def for_engine_type(self, engine_type: str) -> list[PackVoice]:
        return [v for v in self.voices.values() if v.engine_type == engine_type]
