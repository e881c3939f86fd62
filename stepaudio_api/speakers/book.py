"""The speakers one request knows: those named with reference clips (known_speaker_names[] and
known_speaker_references[]) and those found so far, so that a speaker keeps one label from
the first piece of a long recording to the last. Unnamed speakers are labelled A, B, ... in
the order they are first heard, as OpenAI's diarized transcripts label them."""

from __future__ import annotations

import string
from dataclasses import dataclass, field

import numpy as np

SAME_SPEAKER = 0.75
"""Cosine similarity at which a voice is taken for one already heard: the centroids of one
speaker's turns lay at 0.80-0.90 in the test recordings, of two men's at 0.61-0.71 (and of a
man's and a woman's at 0.36-0.57)."""
KNOWN_SPEAKER = 0.60
"""A known speaker's reference is a short clip, often recorded elsewhere: a lower bar, since
the caller says the speaker is there."""


@dataclass
class _Voice:
    label: str
    centroid: np.ndarray
    weight: float
    known: bool


@dataclass
class SpeakerBook:
    voices: list[_Voice] = field(default_factory=list)

    @classmethod
    def with_known(cls, known: list[tuple[str, np.ndarray]]) -> SpeakerBook:
        return cls([_Voice(name, embedding, 1.0, True) for name, embedding in known])

    def labels(self, centroids: list[np.ndarray], weights: list[float]) -> list[str]:
        """A label for each cluster of one piece: each known speaker and each speaker found
        before goes to at most one cluster (the most alike pairs first), the rest are
        new speakers."""
        labels: list[str | None] = [None] * len(centroids)
        if self.voices and centroids:
            similarity = np.array([[float(c @ v.centroid) for v in self.voices]
                                   for c in centroids])  # fmt: skip
            taken: set[int] = set()
            for flat in np.argsort(-similarity, axis=None):  # the most alike pair first
                row, column = divmod(int(flat), len(self.voices))
                voice = self.voices[column]
                bar = KNOWN_SPEAKER if voice.known else SAME_SPEAKER
                if labels[row] is None and column not in taken and similarity[row, column] >= bar:
                    labels[row] = voice.label
                    taken.add(column)
                    self._update(voice, centroids[row], weights[row])
        for index, label in enumerate(labels):
            if label is None:
                voice = _Voice(self._next_letter(), centroids[index], weights[index], False)
                self.voices.append(voice)
                labels[index] = voice.label
        return [label for label in labels if label is not None]

    def _update(self, voice: _Voice, centroid: np.ndarray, weight: float) -> None:
        if voice.known:
            return  # a named reference stays as it was given
        mean = voice.centroid * voice.weight + centroid * weight
        voice.centroid = mean / max(float(np.linalg.norm(mean)), 1e-12)
        voice.weight += weight

    def _next_letter(self) -> str:
        used = {v.label for v in self.voices}
        count = sum(1 for v in self.voices if not v.known)
        while True:
            label = _letters(count)
            if label not in used:
                return label
            count += 1


def _letters(index: int) -> str:
    """A, B, ..., Z, AA, AB, ..."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = string.ascii_uppercase[rest] + letters
    return letters
