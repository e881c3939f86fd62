"""POST /v1/audio/transcriptions and /translations: responses and SSE events."""

import msgspec


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
