"""POST /v1/audio/transcriptions and /translations: the forms, responses and SSE events."""

from typing import Annotated, Literal

import msgspec

TranscriptFormat = Literal["json", "text", "srt", "verbose_json", "vtt", "diarized_json"]


class ChunkingStrategyVad(msgspec.Struct, kw_only=True):
    """Cut the audio where server-side VAD finds a pause, as realtime's server_vad ends a turn;
    each piece is recognised on its own (in a multipart form: ``chunking_strategy[type]`` etc.,
    or the object as JSON text)."""

    type: Literal["server_vad"]
    threshold: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.5
    """A 32 ms window is speech when Silero's probability is at least this."""
    prefix_padding_ms: Annotated[int, msgspec.Meta(ge=0, le=10_000)] = 300
    """Audio kept before the speech that begins a piece."""
    silence_duration_ms: Annotated[int, msgspec.Meta(ge=0, le=10_000)] = 500
    """A pause this long ends a piece."""


class TranscriptionForm(msgspec.Struct, kw_only=True):
    """POST /v1/audio/transcriptions, a multipart form (OpenAI's fields, in its order)."""

    file: bytes
    """The audio file: any common container and codec (flac, mp3, mp4, m4a, ogg, wav, webm,
    ...), at any rate and channel count; at most 25 MiB."""
    model: Annotated[str, msgspec.Meta(examples=["whisper-1", "step-audio-asr"])]
    """step-audio-asr (English, fast), step-audio-asr-multilingual, or OpenAI's names
    (whisper-1, gpt-4o-transcribe, ...: the multilingual model, as OpenAI's are)."""
    chunking_strategy: Literal["auto"] | ChunkingStrategyVad | msgspec.UnsetType = msgspec.UNSET
    """Unset or `auto`: audio over 30 s is recognised in pieces, cut at a pause of 2 s or more
    once a piece holds 30 s (at a minute at the latest); `server_vad`: a piece for
    every pause of `silence_duration_ms`."""
    include: list[Literal["logprobs"]] = msgspec.field(default_factory=list, name="include[]")
    """`logprobs` (with response_format json): the log-probabilities of the text's pieces, from
    models with `capabilities.logprobs` (step-audio-asr and -multilingual give one per word)."""
    known_speaker_names: list[str] = msgspec.field(
        default_factory=list, name="known_speaker_names[]"
    )
    """With a diarizing model (step-audio-asr-diarize, gpt-4o-transcribe-diarize): the names of
    up to 4 speakers, each with a reference in `known_speaker_references[]`, in the same
    order; segments they speak carry the name."""
    known_speaker_references: list[str] = msgspec.field(
        default_factory=list, name="known_speaker_references[]"
    )
    """Data URLs (`data:audio/wav;base64,...`) of 2-10 s clips of the known speakers' voices."""
    language: str | msgspec.UnsetType = msgspec.UNSET
    """The input language, ISO-639-1 (en, zh, ...); default: detected."""
    prompt: str | msgspec.UnsetType = msgspec.UNSET
    """Text to guide the model's style or continue a previous segment."""
    response_format: TranscriptFormat = "json"
    """`diarized_json` (diarizing models only): segments with `speaker`, `start`, `end`."""
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


class TranscriptionLogprob(msgspec.Struct):
    token: str
    logprob: float
    bytes: list[int]
    """The token's UTF-8 bytes."""


class Transcription(msgspec.Struct, omit_defaults=True):
    text: str
    logprobs: list[TranscriptionLogprob] | None = None
    """With include[]=logprobs."""
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


class TranscriptionDiarizedSegment(msgspec.Struct, tag="transcript.text.segment", tag_field="type"):
    id: str
    start: float
    end: float
    text: str
    speaker: str
    """A known speaker's name, else A, B, ... in the order they are first heard."""


class TranscriptionDiarized(msgspec.Struct, omit_defaults=True):
    task: Literal["transcribe"]
    duration: float
    text: str
    segments: list[TranscriptionDiarizedSegment]
    usage: DurationUsage | None = None


class TranscriptTextDelta(
    msgspec.Struct, tag="transcript.text.delta", tag_field="type", omit_defaults=True
):
    delta: str
    logprobs: list[TranscriptionLogprob] | None = None
    segment_id: str | None = None
    """With response_format diarized_json: the segment the text belongs to."""


class TranscriptTextDone(
    msgspec.Struct, tag="transcript.text.done", tag_field="type", omit_defaults=True
):
    text: str
    logprobs: list[TranscriptionLogprob] | None = None
    usage: DurationUsage | None = None
