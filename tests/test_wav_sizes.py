"""wav_with_sizes: a streamed WAV (sizes 0xFFFFFFFF) made into a whole file with real sizes."""

from __future__ import annotations

import io
import struct
import wave

import numpy as np
import pytest

from stepaudio_api.audio.encode import AudioEncoder, wav_with_sizes


def sine(seconds: float, rate: int, frequency: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def streamed_wav(samples: np.ndarray, chunk: int) -> bytes:
    encoder = AudioEncoder("wav", 22050, 24000)
    parts = [encoder.encode(samples[i : i + chunk]) for i in range(0, len(samples), chunk)]
    parts.append(encoder.finish())
    return b"".join(parts)


@pytest.mark.parametrize("chunk", [22050, 1024, 777])
def test_a_streamed_wav_with_sizes_opens_with_the_right_length(chunk: int) -> None:
    streamed = streamed_wav(sine(1.0, 22050), chunk)
    assert streamed[:4] == b"RIFF" and struct.unpack("<I", streamed[4:8])[0] == 0xFFFFFFFF

    data = wav_with_sizes(streamed)

    assert len(data) == len(streamed)
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8
    assert data[36:40] == b"data"
    assert struct.unpack("<I", data[40:44])[0] == len(data) - 44
    assert data[44:] == streamed[44:]  # the samples themselves are untouched
    with wave.open(io.BytesIO(data)) as wav:
        assert wav.getframerate() == 24000
        assert wav.getnchannels() == 1
        assert wav.getsampwidth() == 2
        assert abs(wav.getnframes() - 24000) <= 240
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    assert len(frames) == wav.getnframes()
    # still a 440 Hz tone after resampling to 24 kHz
    spectrum = np.abs(np.fft.rfft(frames.astype(np.float64)))
    peak = np.argmax(spectrum) * 24000 / len(frames)
    assert abs(peak - 440) < 5


def test_wav_with_sizes_is_idempotent() -> None:
    data = wav_with_sizes(streamed_wav(sine(0.25, 22050), 4096))
    assert wav_with_sizes(data) == data


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"RIFF",
        b"not a wav file at all, just some bytes that go on for a while",
        b"ID3\x04\x00" + bytes(100),  # an mp3
        b"RIFF" + bytes(4) + b"WAVE" + b"LIST" + bytes(40),  # RIFF without data at byte 36
    ],
)
def test_bytes_that_are_not_a_streamed_riff_come_back_unchanged(data: bytes) -> None:
    assert wav_with_sizes(data) == data
