"""The input audio buffer: what the client appended since the last commit, at 16 kHz for the
VAD and the recogniser, on the session's clock (milliseconds of input audio since it began)."""

from __future__ import annotations

import numpy as np

from stepaudio_api.audio.resample import StreamResampler
from stepaudio_api.audio.vad import VAD_SAMPLE_RATE
from stepaudio_api.serving.realtime.audio_formats import RealtimeAudioFormat

MIN_COMMIT_MS = 100
"""OpenAI refuses to commit less than 100 ms of audio."""


class InputAudioBuffer:
    def __init__(self, audio_format: RealtimeAudioFormat) -> None:
        self.format = audio_format
        self._resampler = StreamResampler(audio_format.rate, VAD_SAMPLE_RATE)
        self._chunks: list[np.ndarray] = []
        self._samples = 0
        self.start_ms = 0
        """Where the buffer begins on the session clock."""
        self.received_ms = 0.0
        """All input audio appended in the session, in ms (the session clock)."""

    def change_format(self, audio_format: RealtimeAudioFormat) -> None:
        if audio_format != self.format:
            self.format = audio_format
            self._resampler = StreamResampler(audio_format.rate, VAD_SAMPLE_RATE)

    def append(self, samples: np.ndarray) -> np.ndarray:
        """Add audio at the format's rate; returns it at 16 kHz (for the VAD)."""
        self.received_ms += len(samples) * 1000 / self.format.rate
        converted = self._resampler.feed(samples)
        if len(converted):
            self._chunks.append(converted)
            self._samples += len(converted)
        return converted

    @property
    def duration_ms(self) -> float:
        return self._samples * 1000 / VAD_SAMPLE_RATE

    def audio(self, from_ms: float | None = None, to_ms: float | None = None) -> np.ndarray:
        """The buffered audio between two points of the session clock (default: all of it)."""
        whole = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)
        self._chunks = [whole] if len(whole) else []
        first = 0 if from_ms is None else max(0, int((from_ms - self.start_ms) * 16))
        last = len(whole) if to_ms is None else max(first, int((to_ms - self.start_ms) * 16))
        return whole[first:last]

    def take(self, from_ms: float | None = None, to_ms: float | None = None) -> np.ndarray:
        """Commit: the audio (optionally a span of it), and the buffer starts again after it."""
        audio = self.audio(from_ms, to_ms)
        end_ms = self.start_ms + self.duration_ms if to_ms is None else to_ms
        kept = self.audio(end_ms) if to_ms is not None else np.zeros(0, np.float32)
        self._chunks = [kept] if len(kept) else []
        self._samples = len(kept)
        self.start_ms = round(end_ms)
        return audio

    def clear(self) -> None:
        self.start_ms = round(self.start_ms + self.duration_ms)
        self._chunks, self._samples = [], 0
