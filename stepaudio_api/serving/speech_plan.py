"""How one reply's text becomes audio: the routed engine and voice, its options, the shaping.

The speech endpoint speaks one input through a plan; chat and realtime speak a reply sentence
by sentence as the text arrives, through the same plan (the shaping carries across sentences).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

import numpy as np

from stepaudio_api.audio.prosody import NEUTRAL, ProsodyShaper, prosody_for
from stepaudio_api.engines.base import SynthesisOptions, Synthesizer
from stepaudio_api.serving.speech_style import SpeechStyle
from stepaudio_api.serving.speech_text import speakable
from stepaudio_api.serving.text_chunks import SENTENCE_PAUSE, split_for_speech

_EMPTY = np.zeros(0, dtype=np.float32)


@dataclass(slots=True)
class SpeechPlan:
    model_id: str
    engine: Synthesizer
    options: SynthesisOptions
    """As resolved for the request: the engine's own voice (or a cloned voice's reference)."""
    style: SpeechStyle
    shaper: ProsodyShaper | None = field(init=False)
    engine_options: SynthesisOptions = field(init=False)
    """What the engine is asked for once serving takes over what it does not do natively."""

    def __post_init__(self) -> None:
        self.shaper, self.engine_options = _shaping(self.engine, self.options)

    @property
    def sample_rate(self) -> int:
        return self.engine.sample_rate

    def normalize(self, text: str) -> str:
        """The text as the engine should read it: nothing unspeakable (control characters,
        lone surrogates), then the dialect pack's numbers to words, ..."""
        text = speakable(text)
        dialect = self.style.dialect
        return text if dialect is None else dialect.normalize(text) or text

    async def samples(self, text: str, pause_after: bool = False) -> AsyncIterator[np.ndarray]:
        """Speak ``text`` (already normalised): shaped float32 samples at ``sample_rate``, a
        short clause first, then sentences, with the pauses the split took away. With
        ``pause_after`` the last piece is followed by a sentence pause too (more follows)."""
        chunks = split_for_speech(text)
        pause_scale = 1.0 / self.options.speed
        for index, chunk in enumerate(chunks):
            async for pcm in self.engine.synthesize(chunk.text, self.engine_options):
                shaped = self._shape(pcm.samples)
                if len(shaped):
                    yield shaped
            pause = chunk.pause_after
            if pause_after and index == len(chunks) - 1:
                pause = SENTENCE_PAUSE
            if pause:
                silence = np.zeros(int(self.sample_rate * pause * pause_scale), dtype=np.float32)
                shaped = self._shape(silence)
                if len(shaped):
                    yield shaped

    def finish(self) -> np.ndarray:
        """What the shaper still holds once the last text is spoken."""
        return self.shaper.finish() if self.shaper is not None else _EMPTY

    def _shape(self, samples: np.ndarray) -> np.ndarray:
        return self.shaper.process(samples) if self.shaper is not None else samples


def _shaping(
    engine: Synthesizer, options: SynthesisOptions
) -> tuple[ProsodyShaper | None, SynthesisOptions]:
    """The filter serving runs the engine's audio through (None when it has nothing to do),
    and the options the engine is then asked for: speed it does not do natively becomes a
    time-stretch, an emotion it does not act becomes pitch, rate and energy."""
    style = options.style
    prosody = NEUTRAL
    if style is not None and style.emotion is not None and style.emotion not in engine.emotions:
        prosody = prosody_for(style.emotion, style.intensity)
    tempo = 1.0
    if engine.native_speed:
        options = replace(options, speed=options.speed * prosody.rate)
        prosody = replace(prosody, rate=1.0)
    else:
        tempo, options = options.speed, replace(options, speed=1.0)
    if tempo == 1.0 and prosody == NEUTRAL:
        return None, options
    return ProsodyShaper(engine.sample_rate, tempo, prosody), options
