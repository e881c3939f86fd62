"""Recognition of the speech in a recording only: what VAD finds to be no speech is never given
to the recogniser (whisper hears "You" in silence), and the segments' times are those of the
recording. Every caller of a Recognizer (transcriptions, chat's input audio, cloned voices'
transcripts, realtime turns) hears through ``hear``; a long recording, cut into pieces
(audio_pieces.py), through ``HeardPieces``."""

from __future__ import annotations

import bisect
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import numpy as np

from stepaudio_api.audio.vad import SPEECH_PAD_MS, VAD_SAMPLE_RATE, speech_spans
from stepaudio_api.engines.base import (
    Recognizer,
    Segment,
    TranscriptionOptions,
    TranscriptionStream,
)
from stepaudio_api.serving.audio_pieces import Piece

PAD_SAMPLES = SPEECH_PAD_MS * VAD_SAMPLE_RATE // 1000
"""The silence VAD leaves at each end of a span of speech."""


@dataclass(frozen=True, slots=True)
class Speech:
    """The speech of a 16 kHz recording, joined, and the way back to the recording's times."""

    samples: np.ndarray
    spans: list[tuple[int, int]]
    whole: bool
    """Nothing was taken out: the speech is the recording itself."""
    joined_ends: list[int]
    """Where each span ends in the joined speech (samples)."""
    removed_before: list[int]
    """The samples taken out before each span."""

    def original_time(self, seconds: float) -> float:
        """A time in the joined speech as a time in the recording."""
        sample = round(seconds * VAD_SAMPLE_RATE)
        index = min(bisect.bisect_left(self.joined_ends, sample), len(self.joined_ends) - 1)
        return round((sample + self.removed_before[index]) / VAD_SAMPLE_RATE, 3)

    def restore(self, segment: Segment) -> Segment:
        words = segment.words
        if words is not None:
            words = [replace(w, start=self.original_time(w.start), end=self.original_time(w.end))
                     for w in words]  # fmt: skip
        start, end = self._across_joins(segment.start, segment.end)
        return replace(segment, start=start, end=end, words=words)

    def _across_joins(self, start: float, end: float) -> tuple[float, float]:
        """A segment's times in the recording. Whisper starts a segment a little before its
        first word and ends it a little after its last: one that starts in the silence that
        pads a span's end and goes on past the join starts where the next span does (not
        in the speech before the gap); one that ends in the silence that pads the next
        span's start ends where the span before does."""
        first, last = round(start * VAD_SAMPLE_RATE), round(end * VAD_SAMPLE_RATE)
        begins, ends = self.original_time(start), self.original_time(end)
        for index, join in enumerate(self.joined_ends[:-1]):
            if not first <= join < last:
                continue
            if first >= join - PAD_SAMPLES and last > join + PAD_SAMPLES:
                begins = (join + self.removed_before[index + 1]) / VAD_SAMPLE_RATE
            elif last <= join + PAD_SAMPLES and first < join - PAD_SAMPLES:
                ends = (join + self.removed_before[index]) / VAD_SAMPLE_RATE
        return round(begins, 3), round(ends, 3)


def find_speech(samples: np.ndarray) -> Speech:
    spans = speech_spans(samples)
    joined_ends, removed_before, joined, removed, previous = [], [], 0, 0, 0
    for start, end in spans:
        removed += start - previous
        joined += end - start
        joined_ends.append(joined)
        removed_before.append(removed)
        previous = end
    whole = len(spans) == 1 and spans[0][0] == 0 and spans[0][1] >= len(samples)
    if whole or not spans:
        return Speech(samples, spans, whole, joined_ends, removed_before)
    speech = np.concatenate([samples[start:end] for start, end in spans])
    return Speech(speech, spans, False, joined_ends, removed_before)


async def hear(engine: Recognizer, samples: np.ndarray,
               options: TranscriptionOptions) -> TranscriptionStream:  # fmt: skip
    """``engine``'s transcription of the speech in ``samples`` (16 kHz mono float32)."""
    speech = await engine.pool.run(find_speech, samples)
    duration = len(samples) / VAD_SAMPLE_RATE
    if not speech.spans:
        language = options.language or (engine.languages[0] if engine.languages else "en")
        return TranscriptionStream(language, duration, _nothing())
    stream = await engine.transcribe(speech.samples, options)
    if speech.whole:
        return stream
    return TranscriptionStream(stream.language, duration, _restored(speech, stream.segments))


async def _nothing() -> AsyncIterator[Segment]:
    return
    yield  # an async generator that yields nothing


async def _restored(speech: Speech, segments: AsyncIterator[Segment]) -> AsyncIterator[Segment]:
    async for segment in segments:
        yield speech.restore(segment)


class HeardPieces:
    """A recording's transcription, piece by piece: each piece heard as ``hear`` hears it, its
    times made the recording's, segment ids running on. As whisper does within a recording,
    the language found in the first piece with speech holds for the rest; the request's
    prompt is given to every piece (the text of the piece before, as whisper's own
    conditioning, cost tiny.en its timestamps: it answered later pieces in one segment)."""

    def __init__(self, engine: Recognizer, pieces: AsyncIterator[Piece],
                 options: TranscriptionOptions) -> None:  # fmt: skip
        self.engine, self.pieces, self.options = engine, pieces, options
        self.language = options.language
        """The recording's language once a piece has been heard (before: the one asked)."""

    async def segments(self) -> AsyncIterator[Segment]:
        options, next_id = self.options, 0
        async for piece in self.pieces:
            stream = await hear(self.engine, piece.samples, options)
            async for segment in stream.segments:
                if self.language is None:
                    self.language = stream.language
                    options = replace(options, language=self.language)
                yield segment.moved_on(piece.start, next_id)
                next_id += 1
        if self.language is None:
            self.language = self.engine.languages[0] if self.engine.languages else "en"
