"""A finished transcript in OpenAI's response formats: json, text, srt, verbose_json, vtt, and
diarized_json (a diarizing model's)."""

from __future__ import annotations

import msgspec

from stepaudio_api.engines.base import Segment
from stepaudio_api.protocol.transcription import (
    DurationUsage,
    Transcription,
    TranscriptionDiarized,
    TranscriptionDiarizedSegment,
    TranscriptionLogprob,
    TranscriptionSegment,
    TranscriptionVerbose,
    TranscriptionWord,
)

RESPONSE_FORMATS = ("json", "text", "srt", "verbose_json", "vtt", "diarized_json")
CONTENT_TYPES = {
    "json": "application/json",
    "verbose_json": "application/json",
    "diarized_json": "application/json",
    "text": "text/plain; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
}

# verbose_json names the language in words, as Whisper's own table does.
LANGUAGE_NAMES = {
    "en": "english", "zh": "chinese", "yue": "cantonese", "de": "german", "es": "spanish",
    "ru": "russian", "ko": "korean", "fr": "french", "ja": "japanese", "pt": "portuguese",
    "tr": "turkish", "pl": "polish", "ca": "catalan", "nl": "dutch", "ar": "arabic",
    "sv": "swedish", "it": "italian", "id": "indonesian", "hi": "hindi", "fi": "finnish",
    "vi": "vietnamese", "he": "hebrew", "uk": "ukrainian", "el": "greek", "ms": "malay",
    "cs": "czech", "ro": "romanian", "da": "danish", "hu": "hungarian", "ta": "tamil",
    "no": "norwegian", "th": "thai", "ur": "urdu",
}  # fmt: skip


def _timestamp(seconds: float, decimal: str) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{millis:03d}"


def to_srt(segments: list[Segment]) -> str:
    blocks = [
        f"{i}\n{_timestamp(s.start, ',')} --> {_timestamp(s.end, ',')}\n{s.text.strip()}\n"
        for i, s in enumerate(segments, start=1)
    ]
    return "\n".join(blocks)


def to_vtt(segments: list[Segment]) -> str:
    cues = [
        f"{_timestamp(s.start, '.')} --> {_timestamp(s.end, '.')}\n{s.text.strip()}\n"
        for s in segments
    ]
    return "WEBVTT\n\n" + "\n".join(cues)


def full_text(segments: list[Segment]) -> str:
    return "".join(s.text for s in segments).strip()


def segment_id(segment: Segment) -> str:
    return f"seg_{segment.id}"


def diarized_segment(segment: Segment) -> TranscriptionDiarizedSegment:
    return TranscriptionDiarizedSegment(
        id=segment_id(segment), start=round(segment.start, 3), end=round(segment.end, 3),
        text=segment.text.strip(), speaker=segment.speaker or "A",
    )  # fmt: skip


def logprobs_of(segments: list[Segment]) -> list[TranscriptionLogprob]:
    return [
        TranscriptionLogprob(t.token, round(t.logprob, 6), list(t.token.encode()))
        for s in segments
        for t in s.logprobs or ()
    ]


def render_transcript(
    response_format: str,
    segments: list[Segment],
    *,
    task: str,
    language: str,
    duration: float,
    with_words: bool,
    with_logprobs: bool = False,
) -> bytes:
    usage = DurationUsage(seconds=round(duration, 3))
    if response_format == "text":
        return (full_text(segments) + "\n").encode()
    if response_format == "srt":
        return to_srt(segments).encode()
    if response_format == "vtt":
        return to_vtt(segments).encode()
    if response_format == "diarized_json":
        diarized = TranscriptionDiarized(
            task="transcribe", duration=round(duration, 3), text=full_text(segments),
            segments=[diarized_segment(s) for s in segments], usage=usage,
        )  # fmt: skip
        return msgspec.json.encode(diarized)
    if response_format == "json":
        logprobs = logprobs_of(segments) if with_logprobs else None
        transcript = Transcription(text=full_text(segments), logprobs=logprobs, usage=usage)
        return msgspec.json.encode(transcript)
    words = None
    if with_words:
        words = [
            TranscriptionWord(word=w.word.strip(), start=round(w.start, 3), end=round(w.end, 3))
            for s in segments
            for w in s.words or ()
        ]
    verbose = TranscriptionVerbose(
        task=task,
        language=LANGUAGE_NAMES.get(language, language),
        duration=round(duration, 3),
        text=full_text(segments),
        segments=[
            TranscriptionSegment(
                id=s.id,
                seek=s.seek,
                start=round(s.start, 3),
                end=round(s.end, 3),
                text=s.text,
                tokens=s.tokens,
                temperature=s.temperature,
                avg_logprob=s.avg_logprob,
                compression_ratio=s.compression_ratio,
                no_speech_prob=s.no_speech_prob,
            )
            for s in segments
        ],
        words=words,
        usage=usage,
    )
    return msgspec.json.encode(verbose)
