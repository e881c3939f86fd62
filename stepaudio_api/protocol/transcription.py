"""POST /v1/audio/transcriptions and /translations: the forms, responses and SSE events."""

from typing import Annotated, Literal

import msgspec

TranscriptFormat = Literal["json", "text", "srt", "verbose_json", "vtt"]


class TranscriptionForm(msgspec.Struct, kw_only=True):
    """POST /v1/audio/transcriptions, a multipart form (OpenAI's fields, in its order)."""

    file: bytes
    """The audio file: any common container and codec (flac, mp3, mp4, m4a, ogg, wav, webm,
    ...), at any rate and channel count; at most 25 MiB."""
    model: Annotated[str, msgspec.Meta(examples=["whisper-1", "step-audio-asr"])]
    """step-audio-asr, step-audio-asr-multilingual, or OpenAI's names (whisper-1, ...)."""
    chunking_strategy: Literal["auto"] | msgspec.UnsetType = msgspec.UNSET
    include: list[str] = msgspec.field(default_factory=list, name="include[]")
    """`logprobs`: no model here gives them, so it is refused."""
    language: str | msgspec.UnsetType = msgspec.UNSET
    """The input language, ISO-639-1 (en, zh, ...); default: detected."""
    prompt: str | msgspec.UnsetType = msgspec.UNSET
    """Text to guide the model's style or continue a previous segment."""
    response_format: TranscriptFormat = "json"
    stream: bool = False
    """Send `transcript.text.delta` events as the audio is recognised, then
    `transcript.text.done` (response_format json or text)."""
    temperature: float | msgspec.UnsetType = msgspec.UNSET
    """Sampling temperature, 0 to 1."""
    timestamp_granularities: list[Literal["word", "segment"]] = msgspec.field(
        default_factory=list, name="timestamp_granularities[]"
    )
    """With response_format verbose_json: word and/or segment timestamps."""


class TranslationForm(msgspec.Struct, kw_only=True):
    """POST /v1/audio/translations, a multipart form: speech to English text."""

    file: bytes
    model: str
    prompt: str | msgspec.UnsetType = msgspec.UNSET
    response_format: TranscriptFormat = "json"
    temperature: float | msgspec.UnsetType = msgspec.UNSET


class DurationUsage(msgspec.Struct, tag="duration", tag_field="type"):
    seconds: float


class Transcription(msgspec.Struct, omit_defaults=True):
    text: str
    usage: DurationUsage | None = None


class TranscriptionWord(msgspec.Struct):
    word: str
    start: float
    end: float


class TranscriptionSegment(msgspec.Struct):
    id: int
    seek: int
    start: float
    end: float
    text: str
    tokens: list[int]
    temperature: float
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float


class TranscriptionVerbose(msgspec.Struct, omit_defaults=True):
    task: str
    language: str
    duration: float
    text: str
    segments: list[TranscriptionSegment]
    """Always there (empty when nothing was said), as OpenAI's."""
    words: list[TranscriptionWord] | None = None
    usage: DurationUsage | None = None


class TranscriptTextDelta(msgspec.Struct, tag="transcript.text.delta", tag_field="type"):
    delta: str


class TranscriptTextDone(msgspec.Struct, tag="transcript.text.done", tag_field="type"):
    text: str
    usage: DurationUsage | None = None
