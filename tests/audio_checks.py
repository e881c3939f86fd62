"""Helpers the tests share: decode returned audio with PyAV, and word error rate with jiwer."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import av
import jiwer
import numpy as np


@dataclass
class Decoded:
    samples: np.ndarray
    sample_rate: int
    channels: int

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


def decode(data: bytes, fmt: str, pcm_rate: int = 24000) -> Decoded:
    """Decode what the server returned, as a client would; pcm is raw s16le mono."""
    if fmt == "pcm":
        samples = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768
        return Decoded(samples, pcm_rate, 1)
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        frames = [f.to_ndarray() for f in container.decode(stream)]
        rate = stream.codec_context.sample_rate
        channels = stream.codec_context.channels
    planar = np.concatenate(
        [f if f.shape[0] == channels else f.reshape(-1, channels).T for f in frames], axis=1
    )
    samples = planar[0].astype(np.float32)
    if np.issubdtype(planar.dtype, np.integer):  # s16, s32 (24-bit FLAC): to [-1, 1)
        samples /= float(np.iinfo(planar.dtype).max) + 1
    return Decoded(samples, rate, channels)


JFK = (
    "And so my fellow Americans, ask not what your country can do for you, ask what you can "
    "do for your country."
)
"""What is said in tests/data/en_jfk.flac (its README)."""


def clean_words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())


def word_error_rate(reference: str, hypothesis: str) -> float:
    return jiwer.wer(clean_words(reference), clean_words(hypothesis))
