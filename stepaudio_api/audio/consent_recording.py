"""A voice consent recording: decoded to show it is real audio with speech in it, kept as FLAC."""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

from stepaudio_api.audio.decode import AudioDecodeError, decode_audio
from stepaudio_api.audio.reference_clip import (
    ReferenceAudioError,
    _probe,
    _speech_segments,
    samples_to_flac,
)

MAX_RECORDING_SECONDS = 120.0
"""A consent statement is a sentence or two; a longer recording is refused from its header,
before it is decoded."""


@dataclass(frozen=True, slots=True)
class ConsentRecording:
    flac: bytes
    """The recording as stored: mono 16-bit FLAC at ``sample_rate``, untrimmed."""
    sample_rate: int
    duration: float
    speech_seconds: float


def prepare_consent_recording(
    audio: bytes | BinaryIO,
    *,
    sample_rate: int = 24000,
    max_seconds: float = MAX_RECORDING_SECONDS,
    param: str = "recording",
) -> ConsentRecording:
    """Decode the upload whole and re-encode it; a 400 naming ``param`` where it is empty,
    corrupt, not audio, too long, or holds no speech. CPU only: run it in a worker thread."""
    too_long = "the recording is {:.1f} s long; the maximum is {:g} s"
    declared, _ = _probe(audio)
    if declared > max_seconds:
        raise ReferenceAudioError(
            too_long.format(declared, max_seconds), param=param, code="audio_too_long"
        )
    try:
        decoded = decode_audio(audio, sample_rate=sample_rate)
    except AudioDecodeError as exc:  # it names its own param, "file"
        raise ReferenceAudioError(exc.message, param=param, code="invalid_audio") from None
    if decoded.duration > max_seconds:
        raise ReferenceAudioError(
            too_long.format(decoded.duration, max_seconds), param=param, code="audio_too_long"
        )
    segments = _speech_segments(decoded.samples, sample_rate)
    if not segments:
        message = "no speech found in the recording: it must hold the speaker's consent statement"
        raise ReferenceAudioError(message, param=param, code="no_speech")
    return ConsentRecording(
        flac=samples_to_flac(decoded.samples, sample_rate),
        sample_rate=sample_rate,
        duration=decoded.duration,
        speech_seconds=sum(end - start for start, end in segments) / sample_rate,
    )
