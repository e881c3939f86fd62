"""A recording's speaker turns: its voice embedded every half second (1.6 s windows, the
encoder's partial utterance), the windows clustered by agglomerative clustering (average
linkage, SciPy's) on cosine distance with a threshold, so that the number of speakers is
found, not given, then smoothed; each cluster is named through the request's SpeakerBook."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stepaudio_api.speakers.book import SpeakerBook
from stepaudio_api.speakers.encoder import (
    HOP,
    PARTIAL_FRAMES,
    RATE,
    SpeakerEncoder,
    loudness_normalised,
    mel_spectrogram,
)

STEP_FRAMES = 50
"""Windows every 0.5 s."""
BATCH = 64
"""Windows run through the LSTM at once."""
CONTEXT_WINDOWS = 3
"""Each window's embedding is the mean of its own and its neighbours' (2.6 s of voice): one
1.6 s window of a noisy 1961 recording lay at 0.42-1.0 from the speaker's others, with the
mean of three at 0.56-1.0, and two speakers' at most 0.64."""
CLUSTER_SIMILARITY = 0.65
"""Clusters are joined while their windows' mean cosine similarity is at least this."""
MIN_CLUSTER_WINDOWS = 6
"""A cluster of fewer windows (3 s of speech) is noise, or the windows across a change of
speaker: its windows join the nearest larger cluster."""


@dataclass(frozen=True, slots=True)
class Turn:
    start: float
    end: float
    speaker: str


def window_embeddings(encoder: SpeakerEncoder, samples: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """(windows, 256) embeddings and each window's first frame."""
    samples = loudness_normalised(samples)
    if len(samples) < PARTIAL_FRAMES * HOP:
        samples = np.pad(samples, (0, PARTIAL_FRAMES * HOP - len(samples)))
    mel = mel_spectrogram(samples)
    last = max(len(mel) - PARTIAL_FRAMES, 0)
    starts = list(range(0, last + 1, STEP_FRAMES))
    if starts[-1] != last:
        starts.append(last)  # the end of the recording is covered too
    embeddings = [
        encoder.embed_partials(
            np.stack([mel[s : s + PARTIAL_FRAMES] for s in starts[i : i + BATCH]])
        )
        for i in range(0, len(starts), BATCH)
    ]
    return _in_context(np.concatenate(embeddings)), starts


def _in_context(embeddings: np.ndarray) -> np.ndarray:
    half = CONTEXT_WINDOWS // 2
    means = np.stack([embeddings[max(0, i - half) : i + half + 1].mean(axis=0)
                      for i in range(len(embeddings))])  # fmt: skip
    return means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)


def cluster(embeddings: np.ndarray) -> np.ndarray:
    """A cluster number for each window, as many clusters as the voices' distances make."""
    if len(embeddings) < 2:
        return np.zeros(len(embeddings), dtype=int)
    from scipy.cluster.hierarchy import fcluster, linkage  # imported when first diarizing

    tree = linkage(embeddings, method="average", metric="cosine")
    labels = fcluster(tree, t=1.0 - CLUSTER_SIMILARITY, criterion="distance") - 1
    return _smoothed(_small_merged(labels, embeddings))


def _centroid(embeddings: np.ndarray) -> np.ndarray:
    mean = embeddings.mean(axis=0)
    return mean / max(float(np.linalg.norm(mean)), 1e-12)


def _small_merged(labels: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    counts = np.bincount(labels)
    large = [c for c in range(len(counts)) if counts[c] >= MIN_CLUSTER_WINDOWS]
    if not large:
        return np.zeros_like(labels)
    centroids = np.stack([_centroid(embeddings[labels == c]) for c in large])
    merged = labels.copy()
    for index, label in enumerate(labels):
        if counts[label] < MIN_CLUSTER_WINDOWS:
            merged[index] = large[int(np.argmax(centroids @ embeddings[index]))]
    return merged


def _smoothed(labels: np.ndarray) -> np.ndarray:
    """A window whose two neighbours agree with each other takes their label."""
    smooth = labels.copy()
    for i in range(1, len(labels) - 1):
        if labels[i - 1] == labels[i + 1] != labels[i]:
            smooth[i] = labels[i - 1]
    return smooth


def diarize(encoder: SpeakerEncoder, samples: np.ndarray, book: SpeakerBook) -> list[Turn]:
    """The speaker turns of 16 kHz audio (times in seconds from its start), covering all of it;
    a window's speaker holds from midway after the previous window's centre."""
    duration = len(samples) / RATE
    embeddings, starts = window_embeddings(encoder, samples)
    labels = cluster(embeddings)
    clusters = sorted(set(labels.tolist()), key=lambda c: int(np.argmax(labels == c)))
    names = book.labels([_centroid(embeddings[labels == c]) for c in clusters],
                        [float(np.sum(labels == c)) for c in clusters])  # fmt: skip
    name_of = dict(zip(clusters, names, strict=True))
    centres = [(s + PARTIAL_FRAMES / 2) * HOP / RATE for s in starts]
    turns: list[Turn] = []
    for i, label in enumerate(labels):
        start = 0.0 if i == 0 else (centres[i - 1] + centres[i]) / 2
        end = duration if i == len(labels) - 1 else (centres[i] + centres[i + 1]) / 2
        speaker = name_of[int(label)]
        if turns and turns[-1].speaker == speaker:
            turns[-1] = Turn(turns[-1].start, end, speaker)
        else:
            turns.append(Turn(start, end, speaker))
    return turns
