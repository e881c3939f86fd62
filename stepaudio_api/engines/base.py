"""What an engine is: capabilities stated up front, and one async generator method per job."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from stepaudio_api.engines.worker_pool import WorkerPool

if TYPE_CHECKING:
    from stepaudio_api.engines.codec import CodecPrompt
    from stepaudio_api.serving.speech_style import SpeechStyle


@dataclass(frozen=True, slots=True)
class PcmChunk:
    """Mono float32 samples in [-1, 1]."""

    samples: np.ndarray
    sample_rate: int

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


@dataclass(frozen=True, slots=True)
class VoiceInfo:
    name: str
    language: str
    gender: str = ""
    description: str = ""
    scripts: tuple[str, ...] = ()
    """The Unicode scripts it reads ("Han"), when they are fewer than its language's (a
    Mandarin voice that skips Latin words); empty: those its language's dialect pack names."""


@dataclass(frozen=True, slots=True)
class VoiceReference:
    """A cloned voice's prompt: its prepared reference clip and what is said in it."""

    samples: np.ndarray  # mono float32
    sample_rate: int
    transcript: str
    codec_prompts: Mapping[str, CodecPrompt] = field(default_factory=dict)
    """The voice's cloning prompts computed at upload, by codec engine name (an engine that
    decodes through a codec reads its own and need not tokenize the clip again)."""


@dataclass(frozen=True, slots=True)
class SynthesisOptions:
    voice: str
    speed: float = 1.0
    reference: VoiceReference | None = None
    """Set for a cloned voice; only engines with ``clones_voices`` are given one."""
    style: SpeechStyle | None = None
    """How it should sound (emotion, dialect, mode). An engine acts on the emotion only if it
    lists it in ``emotions``, and serving approximates it otherwise; Step-Audio engines write
    it with ``stepaudio_api.serving.step_audio_tags.step_audio_prefix``."""


@dataclass(frozen=True, slots=True)
class TranscriptionOptions:
    language: str | None = None
    prompt: str | None = None
    temperature: float | None = None
    word_timestamps: bool = False
    task: Literal["transcribe", "translate"] = "transcribe"
    quick: bool = False
    """Latency first: the text of a short turn, as realtime needs it (no timestamps, one
    greedy pass); an engine may take a faster road for it, or the usual one."""
    logprobs: bool = False
    """Fill each segment's ``logprobs`` (asked only of engines with ``gives_logprobs``)."""
    speakers: Any = None
    """A diarizing engine's SpeakerBook (speakers/book.py): the request's known speakers and
    those found in its earlier pieces, so that labels hold across a long recording."""


@dataclass(frozen=True, slots=True)
class Word:
    word: str
    start: float
    end: float
    probability: float


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    token: str
    """A piece of the text, as the engine scores it (an engine's docs say which pieces)."""
    logprob: float


@dataclass(frozen=True, slots=True)
class Segment:
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
    words: list[Word] | None = None
    logprobs: list[TokenLogprob] | None = None
    speaker: str | None = None
    """Who spoke it, from a diarizing engine: a known speaker's name, else A, B, ..."""

    def moved_on(self, samples: int, segment_id: int) -> Segment:
        """This segment of audio that began ``samples`` (at 16 kHz) into a longer recording,
        in the recording's times (its words' too; seek counts 10 ms frames)."""
        offset = samples / 16000
        words = self.words
        if words is not None:
            words = [replace(w, start=w.start + offset, end=w.end + offset) for w in words]
        return replace(self, id=segment_id, seek=self.seek + samples * 100 // 16000,
                       start=self.start + offset, end=self.end + offset,
                       words=words)  # fmt: skip


@dataclass(slots=True)
class TranscriptionStream:
    """The detected language and duration at once; the segments as they are recognised."""

    language: str
    duration: float
    segments: AsyncIterator[Segment]


class EngineNotConfigured(Exception):
    """Raised by ``load`` when the engine lacks settings it cannot run without (a chat
    upstream's URL); the message says which. The server runs on without the engine."""


class Engine(ABC):
    """An engine instance: built from its configuration options, loaded once, then shared."""

    type: ClassVar[str]
    """The name configuration uses in ``[engines.<instance>] type = ...``."""

    def __init__(self, name: str, options: dict[str, Any], pool: WorkerPool) -> None:
        self.name = name
        self.options = options
        self.pool = pool

    def bind(self, engines: Mapping[str, Engine]) -> None:  # noqa: B027 - optional hook
        """See the other configured engines before loading (an engine that speaks through
        a codec engine finds it here by the name its options give); raise ValueError to
        mark this engine unavailable with the reason."""

    @abstractmethod
    def load(self) -> None:
        """Load the model (blocking; called once in a worker thread at startup)."""

    def warm(self) -> None:  # noqa: B027 - optional hook
        """Run one tiny job so the first request does not pay for lazy initialisation."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections and other resources at shutdown."""

    def reserve(self) -> AbstractAsyncContextManager[None]:
        """A place for one request; raises EngineOverloaded when none is free."""
        return self.pool.reserve()

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Capabilities, as /v1/models shows them."""


class Synthesizer(Engine):
    sample_rate: int = 22050
    native_speed: bool = False
    """True when the engine itself speaks at ``options.speed`` with durations in proportion;
    otherwise it is asked for 1.0 and serving time-stretches its audio."""
    voices: tuple[VoiceInfo, ...] = ()
    languages: tuple[str, ...] = ()
    polyglot_voices: bool = False
    """True when every voice speaks all of ``languages`` (Step-Audio's speakers); False: a
    voice speaks its own ``language`` (espeak-ng's, Piper's)."""
    clones_voices: bool = False
    """True when the engine speaks in the voice of ``options.reference`` (a cloned voice)."""
    emotions: tuple[str, ...] = ()
    """Emotions the engine itself acts from ``options.style`` (happy, angry, sad, coy); for
    the others serving approximates them through pitch, rate and energy."""
    modes: tuple[str, ...] = ("speak",)
    """What it can do besides speaking: "sing", "rap", "hum"; a request for another is a 400."""

    @abstractmethod
    def synthesize(self, text: str, options: SynthesisOptions) -> AsyncIterator[PcmChunk]:
        """Speak ``text``; yields audio as it is made."""

    def describe(self) -> dict[str, Any]:
        return {
            "capability": "speech",
            "sample_rate": self.sample_rate,
            "languages": list(self.languages),
            "voices": [v.name for v in self.voices],
            "clones_voices": self.clones_voices,
            "native_emotions": list(self.emotions),
            "modes": list(self.modes),
            "streaming": True,
            "speed": {"min": 0.25, "max": 4.0, "native": self.native_speed},
        }


class Recognizer(Engine):
    languages: tuple[str, ...] = ()
    can_translate: bool = False
    gives_logprobs: bool = False
    """Segments carry ``logprobs`` when asked (include[]=logprobs)."""
    diarizes: bool = False
    """Tells speakers apart, and takes known speakers' names and references."""

    @abstractmethod
    async def transcribe(
        self, audio: np.ndarray, options: TranscriptionOptions
    ) -> TranscriptionStream:
        """Recognise 16 kHz mono float32 audio."""

    def describe(self) -> dict[str, Any]:
        return {
            "capability": "transcription",
            "languages": list(self.languages),
            "translation": self.can_translate,
            "timestamps": ["segment", "word"],
            "logprobs": self.gives_logprobs,
            "diarization": self.diarizes,
            "streaming": True,
        }


@dataclass
class EngineTypes:
    """Engine classes collected from the ``register_engines`` hook, by type name."""

    by_type: dict[str, type[Engine]] = field(default_factory=dict)

    def register(self, engine_class: type[Engine], plugin: str = "") -> None:
        if (
            engine_class.type in self.by_type
            and self.by_type[engine_class.type] is not engine_class
        ):
            raise ValueError(f"engine type {engine_class.type!r} registered twice")
        self.by_type[engine_class.type] = engine_class
