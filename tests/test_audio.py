"""audio/: decode anything to mono 16 kHz, stream-encode every format, time-stretch."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
from audio_checks import decode

from stepaudio_api.audio.decode import AudioDecodeError, decode_audio
from stepaudio_api.audio.encode import AUDIO_FORMATS, AudioEncoder
from stepaudio_api.audio.tempo import TempoStretcher

RATE = 22050


def tone(seconds: float, rate: int = RATE, hz: float = 300.0) -> np.ndarray:
    return (0.3 * np.sin(np.arange(int(seconds * rate)) / rate * 2 * np.pi * hz)).astype(np.float32)


@pytest.mark.parametrize("fmt", list(AUDIO_FORMATS))
def test_streaming_encoder_output_decodes_with_the_right_duration(fmt: str) -> None:
    encoder = AudioEncoder(fmt, RATE, 24000)
    signal = tone(2.0)
    parts = [encoder.encode(signal[i : i + 4410]) for i in range(0, len(signal), 4410)]
    parts.append(encoder.finish())
    assert sum(1 for p in parts[:-1] if p) >= 3, "bytes must come out while encoding, not at end"
    audio = decode(b"".join(parts), fmt)
    assert audio.channels == 1
    assert abs(audio.duration - 2.0) < 0.1, audio.duration
    # the tone survives: its dominant frequency is still 300 Hz
    spectrum = np.abs(np.fft.rfft(audio.samples))
    peak = np.argmax(spectrum) * audio.sample_rate / len(audio.samples)
    assert abs(peak - 300) < 10


def test_decode_resamples_stereo_float_input_to_mono_16k(testdata) -> None:  # type: ignore[no-untyped-def]
    decoded = decode_audio((testdata / "en_jfk.flac").read_bytes())
    assert decoded.sample_rate == 16000 and decoded.samples.dtype == np.float32
    assert decoded.source_channels == 2 and decoded.source_sample_rate == 44100
    assert abs(decoded.duration - 11.0) < 0.01
    lixueqin = decode_audio((testdata / "zh_lixueqin_prompt.wav").read_bytes())
    assert lixueqin.source_codec == "pcm_f32le" and lixueqin.duration > 1.0


def test_decode_errors_name_the_problem() -> None:
    with pytest.raises(AudioDecodeError, match="empty"):
        decode_audio(b"")
    with pytest.raises(AudioDecodeError, match="not a recognised audio format"):
        decode_audio(b"hello world\n" * 100)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:  # a video-free, audio-free container
        out.add_stream("mjpeg", rate=1)
    with pytest.raises(AudioDecodeError):
        decode_audio(buffer.getvalue())


def test_truncated_flac_is_refused() -> None:
    """FLAC's STREAMINFO states the sample count, so a cut file is known to be short."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="flac") as out:  # seekable: the header gets the count
        stream = out.add_stream("flac", rate=16000)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(tone(3.0, 16000).reshape(1, -1), format="flt",
                                           layout="mono")  # fmt: skip
        frame.sample_rate = 16000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    data = buffer.getvalue()
    assert abs(decode_audio(data).duration - 3.0) < 0.05
    with pytest.raises(AudioDecodeError, match=r"truncated|corrupt"):
        decode_audio(data[: len(data) // 3])


@pytest.mark.parametrize("speed", [0.25, 0.5, 2.0, 4.0])
def test_time_stretch_changes_duration_not_pitch(speed: float) -> None:
    stretcher = TempoStretcher(RATE, speed)
    signal = tone(2.0)
    pieces = [stretcher.process(signal[i : i + 2205]) for i in range(0, len(signal), 2205)]
    out = np.concatenate([*pieces, stretcher.finish()])
    expected = 2.0 / speed
    assert abs(len(out) / RATE - expected) < max(0.03, 0.01 * expected)
    spectrum = np.abs(np.fft.rfft(out))
    assert abs(np.argmax(spectrum) * RATE / len(out) - 300) < 10
