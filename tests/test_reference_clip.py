"""audio/reference_clip: a voice-cloning prompt from any upload, or a 400 that names the problem."""

from __future__ import annotations

import io
import re
import time
import wave
from pathlib import Path

import av
import numpy as np
import pyloudnorm
import pytest

from stepaudio_api.audio import reference_clip
from stepaudio_api.audio.decode import decode_audio
from stepaudio_api.audio.reference_clip import (
    ReferenceAudioError,
    ReferenceClip,
    clip_to_flac,
    clip_to_wav,
    load_flac,
    prepare_reference_clip,
)

RATE = 24000
CEILING = 10 ** (-1 / 20)

# source duration, and the prepared clip's duration as measured when these tests were written:
# lixueqin opens with 0.8 s of room tone, tingting's speech fills the file, yuqian trails off
ZH_FILES = {
    "zh_lixueqin_prompt.wav": (3.12, 2.47),
    "zh_tingting_prompt.wav": (4.40, 4.40),
    "zh_yuqian_prompt.wav": (8.10, 7.77),
}


def encode(
    samples: np.ndarray, rate: int, fmt: str, codec: str, channels: int = 1, **options: str
) -> bytes:
    """Mono float32 into any container and codec, optionally as stereo with a quieter right."""
    planar = np.stack([samples, 0.5 * samples][:channels]).astype(np.float32)
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=fmt, options=options) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "stereo" if channels == 2 else "mono"
        frame = av.AudioFrame.from_ndarray(planar, format="fltp", layout=stream.layout.name)
        frame.sample_rate = rate
        frame.pts = 0
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


def loudness(clip: ReferenceClip) -> float:
    return pyloudnorm.Meter(clip.sample_rate).integrated_loudness(clip.samples.astype(np.float64))


def noise_floor_db(samples: np.ndarray, rate: int) -> float:
    hop = rate // 50
    frames = samples[: len(samples) // hop * hop].reshape(-1, hop)
    return float(np.percentile(20 * np.log10(np.sqrt(np.mean(frames**2, axis=1)) + 1e-10), 10))


def refusal(code: str, audio: bytes, **kwargs: object) -> ReferenceAudioError:
    with pytest.raises(ReferenceAudioError) as caught:
        prepare_reference_clip(audio, **kwargs)  # type: ignore[arg-type]
    error = caught.value
    assert error.status == 400 and error.code == code, (error.code, error.message)
    assert error.param == kwargs.get("param", "audio_sample")
    return error


@pytest.mark.parametrize("name", list(ZH_FILES))
def test_each_step_audio_prompt_becomes_a_trimmed_normalised_clip(
    testdata: Path, name: str
) -> None:
    source_seconds, trimmed_seconds = ZH_FILES[name]
    clip = prepare_reference_clip((testdata / name).read_bytes())
    assert clip.sample_rate == RATE and clip.samples.dtype == np.float32
    assert clip.samples.ndim == 1 and clip.duration == len(clip.samples) / RATE
    assert clip.source_channels == 1 and clip.source_sample_rate in (22050, 44100)
    assert abs(clip.source_duration - source_seconds) < 0.01
    assert abs(clip.duration - trimmed_seconds) < 0.15, clip.duration
    # the clip is the speech plus at most a short pad either side, never longer than the source
    assert clip.speech_seconds <= clip.duration <= clip.source_duration + 1e-6
    assert clip.duration - clip.speech_seconds < 0.8
    assert abs(loudness(clip) - (-23.0)) < 0.5 and abs(clip.loudness_lufs - (-23.0)) < 0.5
    assert float(np.max(np.abs(clip.samples))) <= CEILING + 1e-6


def test_a_file_object_and_another_rate_and_target_work(testdata: Path) -> None:
    with (testdata / "zh_tingting_prompt.wav").open("rb") as upload:
        clip = prepare_reference_clip(upload, sample_rate=16000, loudness_lufs=-18.0)
    assert clip.sample_rate == 16000 and abs(clip.duration - 4.40) < 0.15
    assert abs(loudness(clip) - (-18.0)) < 0.5


@pytest.mark.parametrize(
    ("fmt", "codec", "rate"), [("mp3", "libmp3lame", 44100), ("ogg", "libopus", 48000)]
)
def test_stereo_lossy_uploads_work(testdata: Path, fmt: str, codec: str, rate: int) -> None:
    speech = decode_audio((testdata / "zh_yuqian_prompt.wav").read_bytes(), rate).samples
    clip = prepare_reference_clip(encode(speech, rate, fmt, codec, channels=2))
    assert clip.source_channels == 2 and clip.source_sample_rate == rate
    assert clip.sample_rate == RATE and abs(clip.duration - 7.77) < 0.2, clip.duration
    assert abs(loudness(clip) - (-23.0)) < 0.5


def test_a_quiet_recording_is_found_and_brought_up(testdata: Path) -> None:
    speech = decode_audio((testdata / "zh_yuqian_prompt.wav").read_bytes(), RATE).samples
    clip = prepare_reference_clip(encode(0.003 * speech, RATE, "wav", "pcm_f32le"))
    assert abs(clip.duration - 7.77) < 0.2 and abs(loudness(clip) - (-23.0)) < 0.5


def test_too_little_speech_is_refused_saying_how_much(testdata: Path) -> None:
    speech = decode_audio((testdata / "zh_tingting_prompt.wav").read_bytes(), RATE).samples
    error = refusal("audio_too_short", encode(speech[:RATE], RATE, "wav", "pcm_s16le"))
    assert "s of speech" in error.message and "at least 2 s" in error.message
    # Step-Audio's own lixueqin prompt has 2.3 s of speech: a 3 s minimum refuses it
    lixueqin = (testdata / "zh_lixueqin_prompt.wav").read_bytes()
    error = refusal("audio_too_short", lixueqin, min_speech_seconds=3.0, param="file")
    assert "2.3 s of speech" in error.message and "at least 3 s" in error.message


def test_silence_and_hiss_have_no_speech() -> None:
    refusal("no_speech", encode(np.zeros(5 * RATE, np.float32), RATE, "wav", "pcm_s16le"))
    hiss = 0.003 * np.random.default_rng(0).standard_normal(5 * RATE)
    error = refusal("no_speech", encode(hiss.astype(np.float32), RATE, "wav", "pcm_s16le"))
    assert error.message == "no speech found in the audio sample"


def test_a_ten_minute_upload_is_refused_from_its_header_fast(testdata: Path) -> None:
    speech = decode_audio((testdata / "en_jfk.flac").read_bytes(), 16000).samples
    # bare MP3 frames (no ID3 tag, no Xing header) concatenate into one valid 610 s stream
    bare = encode(speech, 16000, "mp3", "libmp3lame", id3v2_version="0", write_xing="0")
    long_mp3 = bare * 55
    assert len(long_mp3) < 3_000_000
    started = time.perf_counter()
    error = refusal("audio_too_long", long_mp3)
    assert time.perf_counter() - started < 0.2, "refused from the header, not after decoding"
    # the MP3 demuxer estimates the length from the bit rate and the file size
    seconds = float(re.search(r"is ([0-9.]+) s long", error.message).group(1))  # type: ignore[union-attr]
    assert 600 < seconds < 620 and "maximum is 100 s" in error.message


def test_a_header_that_understates_the_length_is_caught_after_decoding(
    testdata: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reference_clip, "_probe", lambda source: (0.0, 0))
    speech = decode_audio((testdata / "en_jfk.flac").read_bytes(), 8000).samples
    error = refusal("audio_too_long", encode(np.tile(speech, 11), 8000, "wav", "pcm_s16le"))
    assert "121.0 s long" in error.message


def test_too_much_speech_is_refused(testdata: Path) -> None:
    speech = decode_audio((testdata / "en_jfk.flac").read_bytes(), RATE).samples
    error = refusal("audio_too_long", encode(np.tile(speech, 5), RATE, "wav", "pcm_s16le"))
    assert "s of speech" in error.message and "maximum is 30 s" in error.message


def test_not_audio_is_a_400_on_the_callers_param() -> None:
    error = refusal("invalid_audio", b"this is a text file, not audio\n" * 50, param="voice_file")
    assert "not a recognised audio format" in error.message
    assert "empty" in refusal("invalid_audio", b"").message


def test_denoise_lowers_the_noise_floor_and_keeps_the_clip_aligned(testdata: Path) -> None:
    speech = decode_audio((testdata / "zh_yuqian_prompt.wav").read_bytes(), RATE).samples
    hiss = 0.01 * np.random.default_rng(1).standard_normal(len(speech))  # -40 dBFS
    noisy = encode((speech + hiss).astype(np.float32), RATE, "wav", "pcm_f32le")
    plain = prepare_reference_clip(noisy)
    cleaned = prepare_reference_clip(noisy, denoise=True)
    assert len(cleaned.samples) == len(plain.samples)
    floor_drop = noise_floor_db(plain.samples, RATE) - noise_floor_db(cleaned.samples, RATE)
    assert floor_drop > 6, floor_drop
    assert abs(loudness(cleaned) - (-23.0)) < 0.5
    # afftdn delays its output; compensated, the speech lines up with the undenoised clip
    assert np.corrcoef(plain.samples, cleaned.samples)[0, 1] > 0.9


def test_storage_and_download_forms_round_trip(testdata: Path) -> None:
    clip = prepare_reference_clip((testdata / "zh_tingting_prompt.wav").read_bytes())
    flac = clip_to_flac(clip)
    assert flac[:4] == b"fLaC"
    with av.open(io.BytesIO(flac)) as container:
        stream = container.streams.audio[0]
        assert stream.duration == len(clip.samples), "the header carries the sample count"
        assert stream.codec_context.format.name == "s16"
    samples, rate = load_flac(flac)
    assert rate == RATE and len(samples) == len(clip.samples)
    assert float(np.max(np.abs(samples - clip.samples))) < 1e-3

    data = clip_to_wav(clip)
    assert data[:4] == b"RIFF" and int.from_bytes(data[4:8], "little") == len(data) - 8
    with wave.open(io.BytesIO(data)) as wav:
        assert wav.getnframes() == len(clip.samples) and wav.getframerate() == RATE
        assert wav.getnchannels() == 1 and wav.getsampwidth() == 2
