"""The realtime API's audio: pcm16 at 24 kHz, or G.711 u-law / A-law at 8 kHz, base64 in JSON."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Literal

import numpy as np

from stepaudio_api.audio.encode import AudioEncoder
from stepaudio_api.audio.g711 import decode_alaw, decode_ulaw, encode_alaw, encode_ulaw

AudioFormatName = Literal["pcm16", "g711_ulaw", "g711_alaw"]
RATES: dict[str, int] = {"pcm16": 24000, "g711_ulaw": 8000, "g711_alaw": 8000}
GA_TYPES: dict[str, str] = {
    "pcm16": "audio/pcm",
    "g711_ulaw": "audio/pcmu",
    "g711_alaw": "audio/pcma",
}
FROM_GA_TYPE = {v: k for k, v in GA_TYPES.items()}


class BadAudio(ValueError):
    """Audio the session cannot read; the message says why (sent back as an error event)."""


@dataclass(frozen=True, slots=True)
class RealtimeAudioFormat:
    name: AudioFormatName

    @property
    def rate(self) -> int:
        return RATES[self.name]

    @property
    def bytes_per_second(self) -> int:
        return self.rate * (2 if self.name == "pcm16" else 1)

    def decode(self, data: str) -> np.ndarray:
        """Base64 audio to float32 samples at ``rate``."""
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise BadAudio("audio is not valid base64") from None
        if self.name == "pcm16":
            if len(raw) % 2:
                raise BadAudio("pcm16 audio must be whole 16-bit samples (an even byte count)")
            pcm = np.frombuffer(raw, dtype="<i2")
        else:
            pcm = (decode_ulaw if self.name == "g711_ulaw" else decode_alaw)(raw)
        return pcm.astype(np.float32) / 32768.0

    def as_ga(self) -> dict[str, object]:
        ga: dict[str, object] = {"type": GA_TYPES[self.name]}
        if self.name == "pcm16":
            ga["rate"] = 24000
        return ga


class OutputAudio:
    """An engine's float32 audio to the session's output format, chunk by chunk."""

    def __init__(self, audio_format: RealtimeAudioFormat, input_rate: int) -> None:
        self.format = audio_format
        self._encoder = AudioEncoder("pcm", input_rate, audio_format.rate)

    def encode(self, samples: np.ndarray) -> bytes:
        return self._convert(self._encoder.encode(samples))

    def finish(self) -> bytes:
        return self._convert(self._encoder.finish())

    def _convert(self, pcm16: bytes) -> bytes:
        if self.format.name == "pcm16" or not pcm16:
            return pcm16
        samples = np.frombuffer(pcm16, dtype="<i2")
        return (encode_ulaw if self.format.name == "g711_ulaw" else encode_alaw)(samples)
