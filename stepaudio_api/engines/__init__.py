"""Engine interfaces, the worker pool and the registry; implementations arrive as plugins."""

from stepaudio_api.engines.base import (
    Engine,
    PcmChunk,
    Recognizer,
    Segment,
    SynthesisOptions,
    Synthesizer,
    TranscriptionOptions,
    TranscriptionStream,
    VoiceInfo,
    Word,
)
from stepaudio_api.engines.worker_pool import WorkerPool

__all__ = [
    "Engine",
    "PcmChunk",
    "Recognizer",
    "Segment",
    "SynthesisOptions",
    "Synthesizer",
    "TranscriptionOptions",
    "TranscriptionStream",
    "VoiceInfo",
    "Word",
    "WorkerPool",
]
