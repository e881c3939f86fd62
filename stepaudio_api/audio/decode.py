"""Decode any common container and codec, at any rate and channel count, to mono float32."""

from __future__ import annotations

import io
from collections.abc import Iterator
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


def _open(source: bytes | BinaryIO) -> av.container.InputContainer:
    """The file opened as audio (from its start); AudioDecodeError when it is none."""
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
    if not container.streams.audio:
        container.close()
        raise AudioDecodeError("the file contains no audio stream")
    return container


def _frames(
    container: av.container.InputContainer, resampler: av.AudioResampler | None
) -> Iterator[av.AudioFrame]:
    """The first audio stream's frames one at a time (resampled, when a resampler is given),
    then a check that the whole file was there; AudioDecodeError names what is wrong."""
    stream = container.streams.audio[0]
    seconds = 0.0
    try:
        for frame in container.decode(stream):
            for out in resampler.resample(frame) if resampler else (frame,):
                seconds += out.samples / out.sample_rate
                yield out
        for out in resampler.resample(None) if resampler else ():
            seconds += out.samples / out.sample_rate
            yield out
    except (av.FFmpegError, ValueError) as exc:
        raise AudioDecodeError(
            f"the audio is corrupt: decoding failed after {seconds:.2f} s "
            f"({getattr(exc, 'strerror', None) or exc})"
        ) from None
    if seconds == 0:
        raise AudioDecodeError("the file contains no decodable audio samples")
    declared = _declared_duration(container, stream)
    if declared - seconds > max(0.5, 0.05 * declared):
        raise AudioDecodeError(
            f"the audio file is truncated: its header declares {declared:.2f} s "
            f"but only {seconds:.2f} s could be decoded"
        )


def _mono(sample_rate: int) -> av.AudioResampler:
    return av.AudioResampler(format="flt", layout="mono", rate=sample_rate)


def decode_audio(source: bytes | BinaryIO, sample_rate: int = 16000) -> DecodedAudio:
    """Decode and resample; raises AudioDecodeError naming what is wrong with the input."""
    with _open(source) as container:
        pieces = [out.to_ndarray()[0] for out in _frames(container, _mono(sample_rate))]
        codec_context = container.streams.audio[0].codec_context
        return DecodedAudio(
            samples=np.concatenate(pieces).astype(np.float32, copy=False),
            sample_rate=sample_rate,
            source_format=container.format.name,
            source_codec=codec_context.name,
            source_sample_rate=codec_context.sample_rate,
            source_channels=codec_context.channels,
        )


def measure_audio(source: bytes | BinaryIO) -> float:
    """The seconds of audio the file holds, decoded to the end (neither resampled nor kept),
    after the checks ``decode_audio`` makes."""
    with _open(source) as container:
        return sum(frame.samples / frame.sample_rate for frame in _frames(container, None))


def decode_blocks(source: bytes | BinaryIO, sample_rate: int = 16000) -> Iterator[np.ndarray]:
    """The audio as ``decode_audio`` gives it, in blocks of a few thousand samples as they
    are decoded: a long file is never held whole."""
    with _open(source) as container:
        for out in _frames(container, _mono(sample_rate)):
            yield out.to_ndarray()[0]
