"""Streaming encoders: feed float32 chunks, get the bytes of the chosen format as they are made."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import av
import numpy as np

from stepaudio_api.audio.frames import mono_float_frame


@dataclass(frozen=True, slots=True)
class AudioFormat:
    name: str
    content_type: str
    container: str | None  # None: raw PCM or our own WAV header
    codec: str | None
    sample_rates: tuple[int, ...]


_COMMON_RATES = (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000)

AUDIO_FORMATS: dict[str, AudioFormat] = {
    "mp3": AudioFormat("mp3", "audio/mpeg", "mp3", "libmp3lame", _COMMON_RATES),
    "opus": AudioFormat("opus", "audio/ogg", "ogg", "libopus", (8000, 12000, 16000, 24000, 48000)),
    "aac": AudioFormat("aac", "audio/aac", "adts", "aac", _COMMON_RATES),
    "flac": AudioFormat("flac", "audio/flac", "flac", "flac", _COMMON_RATES),
    "wav": AudioFormat("wav", "audio/wav", None, None, _COMMON_RATES),
    "pcm": AudioFormat("pcm", "audio/pcm", None, None, _COMMON_RATES),
}
"""OpenAI's response formats. pcm is raw 16-bit little-endian mono, 24 kHz unless asked."""

DEFAULT_OUTPUT_RATE = 24000


class _Sink:
    """A write-only file object the muxer writes into; we drain it after every packet."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def write(self, data: bytes) -> int:
        self.buffer += data
        return len(data)

    def drain(self) -> bytes:
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


def streaming_wav_header(sample_rate: int, channels: int = 1, bits: int = 16) -> bytes:
    """A RIFF header for a stream of unknown length (sizes 0xFFFFFFFF, as ffmpeg writes)."""
    block_align = channels * bits // 8
    return (
        b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE"
        + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, sample_rate,
                                sample_rate * block_align, block_align, bits)
        + b"data" + struct.pack("<I", 0xFFFFFFFF)
    )  # fmt: skip


class AudioEncoder:
    """Encode mono float32 chunks at ``input_rate`` into ``fmt`` at ``output_rate``."""

    def __init__(self, fmt: str, input_rate: int, output_rate: int = DEFAULT_OUTPUT_RATE) -> None:
        self.format = AUDIO_FORMATS[fmt]
        self.input_rate = input_rate
        self.output_rate = output_rate
        self._pts = 0
        self._header = b""
        if self.format.container is None:
            self._resampler = av.AudioResampler(format="s16", layout="mono", rate=output_rate)
            if fmt == "wav":
                self._header = streaming_wav_header(output_rate)
            return
        self._sink = _Sink()
        options = {"page_duration": "60000"} if self.format.container == "ogg" else {}
        self._container = av.open(
            self._sink, mode="w", format=self.format.container, options=options
        )
        self._stream = self._container.add_stream(self.format.codec, rate=output_rate)
        self._stream.layout = "mono"

    def _frame(self, samples: np.ndarray) -> av.AudioFrame:
        frame = mono_float_frame(samples, self.input_rate, self._pts)
        self._pts += len(samples)
        return frame

    def _encode(self, frame: av.AudioFrame | None) -> bytes:
        if self.format.container is None:
            data = b"".join(f.to_ndarray().tobytes() for f in self._resampler.resample(frame))
            header, self._header = self._header, b""
            return header + data
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        return self._sink.drain()

    def encode(self, samples: np.ndarray) -> bytes:
        if len(samples) == 0:
            return b""
        return self._encode(self._frame(samples))

    def finish(self) -> bytes:
        data = self._encode(None)
        if self.format.container is not None:
            self._container.close()
            data += self._sink.drain()
        return data


def wav_with_sizes(data: bytes) -> bytes:
    """A streamed WAV (sizes 0xFFFFFFFF) made whole: the RIFF and data sizes filled in."""
    if data[:4] != b"RIFF" or data[36:40] != b"data":
        return data
    return (
        data[:4] + struct.pack("<I", len(data) - 8) + data[8:40]
        + struct.pack("<I", len(data) - 44) + data[44:]
    )  # fmt: skip
