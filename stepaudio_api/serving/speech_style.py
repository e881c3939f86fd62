"""How a speech request wants to sound: one SpeechStyle from the explicit extension fields of
/v1/audio/speech and the free-text ``instructions``; explicit fields win."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from stepaudio_api.errors import InvalidRequest
from stepaudio_api.extensions.dialects import Dialect, DialectRegistry
from stepaudio_api.serving.instructions import InstructionParser, ParsedInstructions

Emotion = Literal["happy", "angry", "sad", "coy"]
Mode = Literal["speak", "sing", "rap", "hum"]
EMOTIONS: tuple[str, ...] = get_args(Emotion)
MODES: tuple[str, ...] = get_args(Mode)
MUSIC_MODES = ("sing", "rap", "hum")
MIN_INTENSITY, MAX_INTENSITY = 1, 5
DEFAULT_INTENSITY = 3
"""An emotion named without an intensity ("happy") is a middling one."""

EMOTION_NAMES: dict[str, tuple[str | None, int]] = {
    # what the `emotion` field accepts besides the four names: "neutral" and the Step-Audio
    # tag words, so a client may send either language; intensity is the word's own
    "neutral": (None, DEFAULT_INTENSITY),
    "none": (None, DEFAULT_INTENSITY),
    **{name: (name, DEFAULT_INTENSITY) for name in EMOTIONS},
    "高兴": ("happy", DEFAULT_INTENSITY),
    "生气": ("angry", DEFAULT_INTENSITY),
    "悲伤": ("sad", DEFAULT_INTENSITY),
    "撒娇": ("coy", DEFAULT_INTENSITY),
    "cheerful": ("happy", DEFAULT_INTENSITY),
    "joyful": ("happy", DEFAULT_INTENSITY),
    "excited": ("happy", 4),
    "furious": ("angry", 5),
    "unhappy": ("sad", DEFAULT_INTENSITY),
    "flirty": ("coy", DEFAULT_INTENSITY),
}
ACCEPTED_EMOTIONS = (
    "happy, angry, sad, coy or neutral (also 高兴, 生气, 悲伤, 撒娇, and cheerful, joyful, "
    "excited, furious, unhappy, flirty)"
)


@dataclass(frozen=True, slots=True)
class SpeechStyle:
    """Emotion (None is neutral) at an intensity of 1-5, a language or dialect, a speed
    factor and a mode. Engines read it from ``SynthesisOptions.style``."""

    emotion: Emotion | None = None
    intensity: int = DEFAULT_INTENSITY
    """1 (a touch) to 5 (as strong as it gets); kept at the default when there is no emotion."""
    dialect: Dialect | None = None
    speed: float = 1.0
    mode: Mode = "speak"
    dialect_tag: str | None = None
    """The Step-Audio tag to write for the dialect when the request named it by one of its
    other tags ("广东话"); None: the dialect's own ``step_audio_tag``."""


PLAIN = SpeechStyle()


class StyleResolver:
    """Builds a SpeechStyle from a request's fields; the instruction parser is compiled once
    per set of registered dialects."""

    def __init__(self, dialects: DialectRegistry) -> None:
        self.dialects = dialects
        self._parser: InstructionParser | None = None
        self._parsed_for: int = -1

    @property
    def parser(self) -> InstructionParser:
        # dialects register at startup; rebuild only if the registry changed since
        if self._parser is None or self._parsed_for != len(self.dialects.dialects):
            self._parser = InstructionParser(self.dialects.dialects.values())
            self._parsed_for = len(self.dialects.dialects)
        return self._parser

    def resolve(
        self,
        *,
        instructions: str | None = None,
        emotion: str | None = None,
        emotion_intensity: int | None = None,
        dialect: str | None = None,
        style: str | None = None,
        speed: float | None = None,
    ) -> SpeechStyle:
        if not instructions and emotion is None and dialect is None and style is None:
            if emotion_intensity is not None:
                raise _intensity_without_emotion()
            return PLAIN if speed in (None, 1.0) else SpeechStyle(speed=speed)
        parsed = self.parser.parse(instructions) if instructions else ParsedInstructions()
        if parsed.problems:
            explicit = {
                "emotion": emotion,
                "emotion_intensity": emotion_intensity,
                "dialect": dialect,
                "style": style,
                "speed": speed,
            }
            for field_name, problem in parsed.problems.items():
                if explicit[field_name] is None:
                    raise problem

        chosen_emotion, intensity = parsed.emotion, parsed.intensity
        if emotion is not None:
            named = EMOTION_NAMES.get(emotion.strip().casefold())
            if named is None:
                raise InvalidRequest(
                    f"Unknown emotion '{emotion}'. Accepted: {ACCEPTED_EMOTIONS}",
                    param="emotion",
                    code="invalid_emotion",
                )
            if named[0] != chosen_emotion:  # the instructions' intensity was for another one
                intensity = named[1] if named[0] else None
            chosen_emotion = named[0]
        if emotion_intensity is not None:
            if chosen_emotion is None:
                raise _intensity_without_emotion()
            intensity = emotion_intensity

        chosen_dialect, dialect_tag = parsed.dialect, parsed.dialect_tag
        if dialect is not None:
            chosen_dialect = self.dialects.find(dialect)
            if chosen_dialect is None:
                accepted = (
                    "; ".join(
                        f"{d.name} ({', '.join(d.aliases)})" if d.aliases else d.name
                        for d in sorted(self.dialects.dialects.values(), key=lambda d: d.name)
                    )
                    or "none: no dialect pack is installed (pip install stepaudio-dialects)"
                )
                raise InvalidRequest(
                    f"Unknown dialect '{dialect}'. Accepted: {accepted}",
                    param="dialect",
                    code="invalid_dialect",
                )
            dialect_tag = chosen_dialect.step_audio_tag_for(dialect.strip())
            dialect_tag = None if dialect_tag == chosen_dialect.step_audio_tag else dialect_tag

        mode = parsed.mode
        if style is not None:
            mode = style.strip().casefold()
            if mode not in MODES:
                raise InvalidRequest(
                    f"Unknown style '{style}'. Accepted: {', '.join(MODES)}",
                    param="style",
                    code="invalid_style",
                )
        mode = mode or "speak"
        if chosen_emotion is not None and mode in MUSIC_MODES:
            # Step-Audio's RAP and 哼唱 prompts take their own tag alone (tts_app.py's music
            # mode writes nothing else), so an emotion would be silently dropped
            raise InvalidRequest(
                f"The style '{mode}' cannot be combined with an emotion ('{chosen_emotion}'): "
                "singing, rap and humming take no emotion. Send one or the other.",
                param="style" if style is not None else "emotion",
                code="style_conflict",
            )
        return SpeechStyle(
            emotion=chosen_emotion,  # type: ignore[arg-type]
            intensity=(intensity or DEFAULT_INTENSITY) if chosen_emotion else DEFAULT_INTENSITY,
            dialect=chosen_dialect,
            speed=speed if speed is not None else (parsed.speed or 1.0),
            mode=mode,  # type: ignore[arg-type]
            dialect_tag=dialect_tag,
        )


def _intensity_without_emotion() -> InvalidRequest:
    return InvalidRequest(
        "'emotion_intensity' needs an emotion: send 'emotion' (happy, angry, sad or coy) or "
        "name one in 'instructions'",
        param="emotion_intensity",
        code="invalid_emotion_intensity",
    )
