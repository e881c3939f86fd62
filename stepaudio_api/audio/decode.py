"""Decode any common container and codec, at any rate and channel count, to mono float32."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import BinaryIO

import av
import numpy as np

from stepaudio_api.errors import InvalidRequest


@dataclass(frozen=True, slots=True)
class DecodedAudio:
    samples: np.ndarray  # mono float32 at sample_rate
    sample_rate: int
    source_format: str
    source_codec: str
    source_sample_rate: int
    source_channels: int

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


class AudioDecodeError(InvalidRequest):
    def __init__(self, message: str, param: str = "file") -> None:
        super().__init__(message, param=param, code="invalid_audio")


def _declared_duration(container: av.container.InputContainer, stream: av.AudioStream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return 0.0


def decode_audio(source: bytes | BinaryIO, sample_rate: int = 16000) -> DecodedAudio:
    """Decode and resample; raises AudioDecodeError naming what is wrong with the input."""
    if isinstance(source, bytes | bytearray):
        source = io.BytesIO(source)
    if source.seek(0, io.SEEK_END) == 0:
        raise AudioDecodeError("the audio file is empty")
    source.seek(0)
    try:
        container = av.open(source, mode="r", metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise AudioDecodeError(
            "could not read the file as audio: it is not a recognised audio format "
            f"({getattr(exc, 'strerror', None) or exc})"
        ) from None
    with container:
        if not container.streams.audio:
            raise AudioDecodeError("the file contains no audio stream")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        pieces: list[np.ndarray] = []
        decoded = 0
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    pieces.append(out.to_ndarray()[0])
                    decoded += out.samples
            for out in resampler.resample(None):
                pieces.append(out.to_ndarray()[0])
                decoded += out.samples
        except (av.FFmpegError, ValueError) as exc:
            raise AudioDecodeError(
                f"the audio is corrupt: decoding failed after {decoded / sample_rate:.2f} s "
                f"({getattr(exc, 'strerror', None) or exc})"
            ) from None
        if decoded == 0:
            raise AudioDecodeError("the file contains no decodable audio samples")
        got = decoded / sample_rate
        declared = _declared_duration(container, stream)
        if declared - got > max(0.5, 0.05 * declared):
            raise AudioDecodeError(
                f"the audio file is truncated: its header declares {declared:.2f} s "
                f"but only {got:.2f} s could be decoded"
            )
        codec_context = stream.codec_context
        return DecodedAudio(
            samples=np.concatenate(pieces).astype(np.float32, copy=False),
            sample_rate=sample_rate,
            source_format=container.format.name,
            source_codec=codec_context.name,
            source_sample_rate=codec_context.sample_rate,
            source_channels=codec_context.channels,
        )
