"""Speech recognition that says who spoke: the speaker encoder and clustering
(stepaudio_api.speakers) find the speaker turns, then another configured recognizer hears
each turn by itself; its segments carry the turn's speaker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from stepaudio_api.engines.base import (
    Engine,
    Recognizer,
    Segment,
    TranscriptionOptions,
    TranscriptionStream,
)
from stepaudio_api.speakers.book import SpeakerBook
from stepaudio_api.speakers.diarization import Turn, diarize
from stepaudio_api.speakers.encoder import RATE, SpeakerEncoder, shared_encoder

OPTIONS = {"recognizer"}


class DiarizingRecognizer(Recognizer):
    type = "diarizing"
    diarizes = True

    recognizer: Recognizer | None = None
    encoder: SpeakerEncoder | None = None

    def bind(self, engines: Mapping[str, Engine]) -> None:
        name = self.options.get("recognizer")
        inner = engines.get(str(name)) if name else None
        if not isinstance(inner, Recognizer) or isinstance(inner, DiarizingRecognizer):
            raise ValueError(f"option recognizer = '{name}' names no speech recognition engine "
                             f"(configured: {', '.join(sorted(engines))})")  # fmt: skip
        self.recognizer = inner

    @property  # type: ignore[override]
    def languages(self) -> tuple[str, ...]:
        """The recognizer's (known once it has loaded)."""
        return self.recognizer.languages if self.recognizer is not None else ()

    def load(self) -> None:
        unknown = set(self.options) - OPTIONS
        if unknown:
            raise ValueError(f"unknown option(s) {', '.join(sorted(unknown))}")
        if self.recognizer is None:
            raise ValueError("option recognizer is required: the engine that hears the words")
        self.encoder = shared_encoder()

    def warm(self) -> None:
        assert self.encoder is not None
        diarize(self.encoder, np.zeros(16000, np.float32), SpeakerBook())

    def embed(self, samples: np.ndarray) -> np.ndarray:
        """A voice's embedding (16 kHz audio; blocking)."""
        assert self.encoder is not None
        return self.encoder.embed_utterance(samples)

    async def transcribe(
        self, audio: np.ndarray, options: TranscriptionOptions
    ) -> TranscriptionStream:
        assert self.recognizer is not None and self.encoder is not None
        book = options.speakers if isinstance(options.speakers, SpeakerBook) else SpeakerBook()
        turns = await self.pool.run(diarize, self.encoder, audio, book)
        duration = len(audio) / RATE
        first = await self._heard(audio, turns[0], options)
        return TranscriptionStream(first.language, duration,
                                   self._segments(audio, turns, options, first))  # fmt: skip

    async def _heard(self, audio: np.ndarray, turn: Turn,
                     options: TranscriptionOptions) -> TranscriptionStream:  # fmt: skip
        assert self.recognizer is not None
        samples = audio[round(turn.start * RATE) : round(turn.end * RATE)]
        return await self.recognizer.transcribe(samples, replace(options, logprobs=False))

    async def _segments(self, audio: np.ndarray, turns: list[Turn], options: TranscriptionOptions,
                        first: TranscriptionStream) -> AsyncIterator[Segment]:  # fmt: skip
        """Each turn heard by itself, in order: a recogniser given two voices in one window
        wrote the first's words and dropped the second's; a turn also finds its own language."""
        index = 0
        for number, turn in enumerate(turns):
            heard = first if number == 0 else await self._heard(audio, turn, options)
            async for segment in heard.segments:
                if segment.text.strip():
                    yield _moved(segment, turn, index)
                    index += 1

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "recognizer": self.options.get("recognizer")}


def _moved(segment: Segment, turn: Turn, index: int) -> Segment:
    """A turn's segment in the audio's times, labelled with the turn's speaker."""
    moved = segment.moved_on(round(turn.start * RATE), index)
    return replace(moved, start=round(moved.start, 3), end=round(min(moved.end, turn.end), 3),
                   speaker=turn.speaker)  # fmt: skip
