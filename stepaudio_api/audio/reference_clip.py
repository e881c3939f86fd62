"""Prepare a cloned voice's reference clip: decode, find the speech, trim, denoise, normalise."""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from typing import BinaryIO

import av
import av.filter
import numpy as np
from faster_whisper.vad import VadOptions, get_speech_timestamps

from stepaudio_api.audio.decode import AudioDecodeError, _declared_duration, decode_audio
from stepaudio_api.audio.encode import DEFAULT_OUTPUT_RATE
from stepaudio_api.audio.frames import mono_float_frame
from stepaudio_api.audio.resample import resample
from stepaudio_api.errors import InvalidRequest

VAD_RATE = 16000  # the silero VAD that faster-whisper bundles works at 16 kHz
# no padding and short pauses split segments, so their sum is the speech itself, not its pauses
VAD_OPTIONS = VadOptions(min_speech_duration_ms=250, min_silence_duration_ms=300, speech_pad_ms=0)
EDGE_PAD = 0.15  # seconds kept either side of the speech, so onsets and decays are not cut
PEAK_CEILING = 10 ** (-1 / 20)  # -1 dBFS: room for lossy re-encoding without clipping
MIN_MEASURABLE = 0.5  # BS.1770 gates 400 ms blocks; shorter audio has no integrated loudness


@dataclass(frozen=True, slots=True)
class ReferenceClip:
    samples: np.ndarray  # float32 mono at sample_rate, trimmed, normalised (and denoised if asked)
    sample_rate: int
    duration: float  # seconds of the prepared clip
    speech_seconds: float  # seconds of speech the VAD found
    loudness_lufs: float  # integrated loudness measured after normalisation
    source_duration: float  # the upload as decoded
    source_sample_rate: int
    source_channels: int


class ReferenceAudioError(InvalidRequest):
    def __init__(self, message: str, *, param: str, code: str) -> None:
        super().__init__(message, param=param, code=code)


def _probe(source: bytes | BinaryIO) -> tuple[float, int]:
    """The declared duration and rate, from the header alone; (0, 0) if unreadable or unknown."""
    stream_source = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    try:
        with av.open(stream_source, mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                return 0.0, 0
            stream = container.streams.audio[0]
            return _declared_duration(container, stream), stream.codec_context.sample_rate or 0
    except (av.FFmpegError, UnicodeDecodeError, ValueError):
        return 0.0, 0  # decode_audio says what is wrong, in the project's words
    finally:
        if not isinstance(source, bytes | bytearray):
            source.seek(0)


def _speech_segments(samples: np.ndarray, rate: int) -> list[tuple[int, int]]:
    """Speech as (start, end) sample indices at ``rate``."""
    audio = resample(samples, rate, VAD_RATE)
    peak = float(np.max(np.abs(audio)))
    if peak > 0:
        # silero is level-sensitive and misses quiet but clean recordings; scale to a fixed peak
        audio = audio * (0.9 / peak)
    scale = rate / VAD_RATE
    return [
        (int(s["start"] * scale), min(len(samples), int(s["end"] * scale)))
        for s in get_speech_timestamps(audio, VAD_OPTIONS)
    ]


def _run_filter(samples: np.ndarray, rate: int, name: str, args: str) -> np.ndarray:
    graph = av.filter.Graph()
    source = graph.add_abuffer(format="flt", sample_rate=rate, layout="mono")
    stage = graph.add(name, args)
    sink = graph.add("abuffersink")
    source.link_to(stage)
    stage.link_to(sink)
    graph.configure()
    source.push(mono_float_frame(samples, rate, 0))
    source.push(None)
    pieces: list[np.ndarray] = []
    while True:
        try:
            pieces.append(sink.pull().to_ndarray().reshape(-1))
        except (BlockingIOError, EOFError, av.error.EOFError):
            break
    return np.concatenate(pieces) if pieces else np.zeros(0, np.float32)


@lru_cache(maxsize=16)
def _afftdn_delay(rate: int) -> int:
    """afftdn's output lags its input by two FFT hops and the tail is not flushed: measure it."""
    impulse = np.zeros(rate // 2, np.float32)
    impulse[rate // 4] = 0.5
    return int(np.argmax(np.abs(_run_filter(impulse, rate, "afftdn", "")))) - rate // 4


def _denoise(samples: np.ndarray, rate: int) -> np.ndarray:
    """ffmpeg's afftdn, its noise floor set from the quietest 20 ms frames of this recording."""
    hop = rate // 50
    frames = samples[: len(samples) // hop * hop].reshape(-1, hop)
    levels = 20 * np.log10(np.sqrt(np.mean(frames**2, axis=1)) + 1e-10)
    # afftdn only removes noise up to the floor it is told; -50 dB (its default) misses most hiss
    floor = float(np.clip(np.percentile(levels, 10), -80, -20))
    delay = _afftdn_delay(rate)
    padded = np.concatenate([samples, np.zeros(delay, np.float32)])
    out = _run_filter(padded, rate, "afftdn", f"nr=20:nf={floor:.1f}")
    return out[delay : delay + len(samples)].astype(np.float32, copy=False)


def _normalise(clip: np.ndarray, rate: int, target_lufs: float) -> tuple[np.ndarray, float]:
    """Gain to target_lufs (ITU-R BS.1770), capped so the peak stays at or below -1 dBFS."""
    import pyloudnorm  # with scipy ~75 MB resident: loaded when a voice is first uploaded

    meter = pyloudnorm.Meter(rate)
    peak = float(np.max(np.abs(clip)))
    # measure at full scale first: BS.1770's absolute gate (-70 LUFS) drops the quieter blocks of
    # a faint recording, so its loudness measured as is would not scale with the gain applied
    loudest = clip * (PEAK_CEILING / peak) if peak > 0 else clip
    measured = meter.integrated_loudness(loudest.astype(np.float64))
    gain = min(1.0, 10 ** ((target_lufs - measured) / 20)) if np.isfinite(measured) else 1.0
    out = (loudest * gain).astype(np.float32)
    return out, float(meter.integrated_loudness(out.astype(np.float64)))


def prepare_reference_clip(
    audio: bytes | BinaryIO,
    *,
    sample_rate: int = 24000,
    min_speech_seconds: float = 2.0,
    max_speech_seconds: float = 30.0,
    loudness_lufs: float = -23.0,
    denoise: bool = False,
    param: str = "audio_sample",
) -> ReferenceClip:
    """Decode an upload into a voice-cloning prompt; ReferenceAudioError (400) says what is wrong.

    CPU only and synchronous: call it from a worker thread.
    """
    # generous, so silence around the speech is not a reason to refuse, yet bounded, so a long
    # recording is refused from its header before it is decoded and run through the VAD
    max_upload = 3 * max_speech_seconds + 10
    too_long = "the audio sample is {:.1f} s long; the maximum is {:g} s"
    declared, _ = _probe(audio)
    if declared > max_upload:
        message = too_long.format(declared, max_upload)
        raise ReferenceAudioError(message, param=param, code="audio_too_long")
    try:
        decoded = decode_audio(audio, sample_rate=sample_rate)
    except AudioDecodeError as exc:  # it names its own param, "file"
        raise ReferenceAudioError(exc.message, param=param, code="invalid_audio") from None
    if decoded.duration > max_upload:
        message = too_long.format(decoded.duration, max_upload)
        raise ReferenceAudioError(message, param=param, code="audio_too_long")

    samples = decoded.samples
    segments = _speech_segments(samples, sample_rate)
    if not segments:
        message = "no speech found in the audio sample"
        raise ReferenceAudioError(message, param=param, code="no_speech")
    speech_seconds = sum(end - start for start, end in segments) / sample_rate
    found = f"the audio sample has {speech_seconds:.1f} s of speech"
    minimum = max(min_speech_seconds, MIN_MEASURABLE)
    if speech_seconds < minimum:
        message = f"{found}; at least {minimum:g} s are needed"
        raise ReferenceAudioError(message, param=param, code="audio_too_short")
    if speech_seconds > max_speech_seconds:
        message = f"{found}; the maximum is {max_speech_seconds:g} s"
        raise ReferenceAudioError(message, param=param, code="audio_too_long")

    pad = int(EDGE_PAD * sample_rate)
    start = max(0, segments[0][0] - pad)
    end = min(len(samples), segments[-1][1] + pad)
    if denoise:
        # the whole recording, so the filter settles before the clip starts
        samples = _denoise(samples, sample_rate)
    clip, measured = _normalise(samples[start:end], sample_rate, loudness_lufs)
    return ReferenceClip(
        samples=clip,
        sample_rate=sample_rate,
        duration=len(clip) / sample_rate,
        speech_seconds=speech_seconds,
        loudness_lufs=measured,
        source_duration=decoded.duration,
        source_sample_rate=decoded.source_sample_rate,
        source_channels=decoded.source_channels,
    )


def _encode(samples: np.ndarray, rate: int, container_format: str, codec: str) -> bytes:
    # a seekable buffer, unlike AudioEncoder's sink, lets the muxer write the real sizes back
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container_format) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "mono"
        stream.format = "s16"
        for packet in stream.encode(mono_float_frame(samples, rate, 0)):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


def samples_to_flac(samples: np.ndarray, rate: int) -> bytes:
    """The storage form of mono float32 audio: 16-bit FLAC with its sample count in the header."""
    return _encode(samples, rate, "flac", "flac")


def samples_to_wav(samples: np.ndarray, rate: int) -> bytes:
    """The download form: 16-bit PCM RIFF WAV with real sizes."""
    return _encode(samples, rate, "wav", "pcm_s16le")


def clip_to_flac(clip: ReferenceClip) -> bytes:
    return samples_to_flac(clip.samples, clip.sample_rate)


def clip_to_wav(clip: ReferenceClip) -> bytes:
    return samples_to_wav(clip.samples, clip.sample_rate)


def load_flac(data: bytes) -> tuple[np.ndarray, int]:
    """Read the stored form back at its own rate, as mono float32."""
    _, rate = _probe(data)
    decoded = decode_audio(data, sample_rate=rate or DEFAULT_OUTPUT_RATE)
    return decoded.samples, decoded.sample_rate
