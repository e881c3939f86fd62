"""When the user starts and stops speaking, from Silero's speech probability every 32 ms.

Times are milliseconds of input audio since the session began (what OpenAI's
``audio_start_ms`` / ``audio_end_ms`` count). Besides start and stop, a short pause inside a turn
is reported, so a response can be prepared speculatively while the user may still go on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

WINDOW_MS = 32
START_WINDOWS = 2
"""Windows above the threshold in a row before speech is taken to have started (a click or a
cough is one)."""
HYSTERESIS = 0.15
"""Speech goes on while the probability stays above threshold minus this (Silero's own rule)."""
END_LOUDNESS = 0.05
"""Where speech ends: the last window above the threshold that is also at least this share of
the turn's loudest window (-26 dB). Silero's probability stays high for 40 to 170 ms after
the last sound (measured on Piper's speech: 68 ms median); the loudness says where the sound
stopped (8 ms median after the end by energy), so the silence that ends a turn is counted
from there. A noisy tail, above it, changes nothing."""
SEMANTIC_SILENCE_MS = {"high": 250, "medium": 500, "auto": 500, "low": 1000}
"""semantic_vad: the pause after a finished-sounding sentence that ends the turn, by eagerness;
an unfinished-sounding one waits UNFINISHED_FACTOR times longer."""
UNFINISHED_FACTOR = 3.0


_TRAILING_WORDS = frozenset(
    "and or but so because since the a an to of with for if then that which who um uh er like "
    "my your our their is are was were i we you".split()
)
_FINAL_MARKS = (".", "?", "!", "。", "？", "！")


def sounds_finished(transcript: str) -> bool:
    """Whether words heard so far end like a finished sentence: a final mark, and no word
    that leads on ("and", "because", "um") before it (the recogniser adds a full stop to
    most pauses)."""
    text = transcript.strip()
    if not text or not text.endswith(_FINAL_MARKS) or text.endswith("..."):
        return False
    last = text.rstrip(".?!。？！").split()[-1:] or [""]
    return last[0].lower().strip(",;:") not in _TRAILING_WORDS


@dataclass(frozen=True, slots=True)
class TurnSettings:
    kind: Literal["server_vad", "semantic_vad"] = "server_vad"
    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500
    eagerness: str = "auto"
    speculate_after_ms: int = 160
    """A pause this long (shorter than the silence that ends a turn) starts a speculative
    response; 0 turns speculation off."""

    def silence_ms(self, sounds_finished: bool | None) -> float:
        if self.kind == "server_vad":
            return self.silence_duration_ms
        base = SEMANTIC_SILENCE_MS.get(self.eagerness, 500)
        return base if sounds_finished is not False else base * UNFINISHED_FACTOR


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    audio_start_ms: int
    """Where the audio sent on for this turn begins: the detected start less the prefix."""


@dataclass(frozen=True, slots=True)
class SpeechPaused:
    audio_end_ms: int
    """The end of the speech heard so far."""


@dataclass(frozen=True, slots=True)
class SpeechResumed:
    pass


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    audio_end_ms: int
    """When the turn ended: the end of speech plus the silence that ended it."""
    speech_end_ms: int
    """The end of the speech itself."""


TurnEvent = SpeechStarted | SpeechPaused | SpeechResumed | SpeechStopped


class TurnDetector:
    def __init__(self, settings: TurnSettings, elapsed_ms: int = 0) -> None:
        self.settings = settings
        self.speaking = False
        self.paused = False
        self.elapsed_ms = elapsed_ms
        """The session clock (ms of input audio), carried over when the settings change."""
        self._above = 0
        self._last_speech_ms = 0
        self._loudest = 0.0
        self.sounds_finished: bool | None = None
        """semantic_vad: whether the words heard so far end like a finished sentence (set
        by the session once it has a transcript of the pause; None: not known)."""

    def window(self, probability: float, rms: float | None = None) -> list[TurnEvent]:
        """One 32 ms window's probability (and loudness, where known); the events it causes."""
        start = self.elapsed_ms
        self.elapsed_ms += WINDOW_MS
        settings = self.settings
        events: list[TurnEvent] = []
        if not self.speaking:
            self._above = self._above + 1 if probability >= settings.threshold else 0
            if self._above == 1:
                self._loudest = 0.0
            if self._above:
                self._loudest = max(self._loudest, rms or 0.0)
            if self._above >= START_WINDOWS:
                self.speaking, self.paused = True, False
                began = start - (START_WINDOWS - 1) * WINDOW_MS
                self._last_speech_ms = self.elapsed_ms
                self.sounds_finished = None
                events.append(SpeechStarted(max(0, began - settings.prefix_padding_ms)))
            return events
        if probability >= settings.threshold - HYSTERESIS:
            # Silero's probability fades over a few windows after the last word: the speech
            # goes on while it does, but its end is the last loud window above the threshold
            if probability >= settings.threshold:
                self._loudest = max(self._loudest, rms or 0.0)
                if rms is None or rms >= END_LOUDNESS * self._loudest:
                    self._last_speech_ms = self.elapsed_ms
                    if self.paused:
                        self.paused = False
                        self.sounds_finished = None
                        events.append(SpeechResumed())
            return events
        silent = self.elapsed_ms - self._last_speech_ms
        if silent >= settings.silence_ms(self.sounds_finished):
            self.speaking = self.paused = False
            self._above = 0
            events.append(SpeechStopped(self.elapsed_ms, self._last_speech_ms))
        elif (
            not self.paused
            and settings.speculate_after_ms
            and silent >= settings.speculate_after_ms
        ):
            self.paused = True
            events.append(SpeechPaused(self._last_speech_ms))
        return events

    def reset(self) -> None:
        """After a manual commit or clear: the next speech is a new turn."""
        self.speaking = self.paused = False
        self._above = 0
