"""How alike two recordings' voices are: the cosine similarity of their speaker embeddings,
each taken over the recording's speech only (its long silences and the hiss in them out), so
that a cloned voice's preview is scored against its reference clip, and later a made
dataset's lines against their speaker."""

from __future__ import annotations

import numpy as np

from stepaudio_api.audio.resample import resample
from stepaudio_api.audio.vad import speech_spans
from stepaudio_api.speakers.encoder import RATE, SpeakerEncoder, shared_encoder

MIN_SPEECH_SECONDS = 0.5
"""Less speech than this has no voice to embed: the whole recording is embedded instead."""


def speech_only(samples: np.ndarray) -> np.ndarray:
    """16 kHz audio without the silences between its speech (all of it when it has too
    little speech to go on)."""
    spans = speech_spans(samples)
    speech = np.concatenate([samples[s:e] for s, e in spans]) if spans else samples[:0]
    return speech if len(speech) >= MIN_SPEECH_SECONDS * RATE else samples


def voice_embedding(
    samples: np.ndarray, sample_rate: int, encoder: SpeakerEncoder | None = None
) -> np.ndarray:
    """The unit embedding of the voice in mono float audio at any rate."""
    at_16k = resample(samples.astype(np.float32, copy=False), sample_rate, RATE)
    return (encoder or shared_encoder()).embed_utterance(speech_only(at_16k))


def voice_similarity(
    first: tuple[np.ndarray, int],
    second: tuple[np.ndarray, int],
    encoder: SpeakerEncoder | None = None,
) -> float:
    """Cosine similarity, -1 to 1, of the voices in two (samples, rate) recordings: one
    speaker's recordings lie at about 0.8-0.9 here, two speakers' below 0.75."""
    a = voice_embedding(*first, encoder=encoder)
    b = voice_embedding(*second, encoder=encoder)
    return float(np.clip(np.dot(a, b), -1.0, 1.0))
