"""A chat reply spoken as its text arrives: each sentence as soon as it is complete."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import nullcontext
from typing import Protocol

import numpy as np

from stepaudio_api.audio.encode import DEFAULT_OUTPUT_RATE, AudioEncoder
from stepaudio_api.audio.resample import StreamResampler
from stepaudio_api.serving.reply_voices import ReplyPiece, ReplyVoices
from stepaudio_api.serving.sentence_stream import SentenceStream
from stepaudio_api.serving.speech import OUTPUT_TOKENS_PER_SECOND
from stepaudio_api.serving.speech_plan import SpeechPlan
from stepaudio_api.serving.speech_routing import SpeechRoute

# OpenAI's chat audio formats, as our encoder names them (pcm16 is raw 16-bit 24 kHz mono)
ENCODER_FORMATS = {"pcm16": "pcm", "wav": "wav", "mp3": "mp3", "flac": "flac", "opus": "opus",
                   "aac": "aac"}  # fmt: skip


class Encoder(Protocol):
    def encode(self, samples: np.ndarray) -> bytes: ...
    def finish(self) -> bytes: ...


def chat_encoder(plan: SpeechPlan, audio_format: str) -> AudioEncoder:
    """The encoder of a chat reply in one of OpenAI's chat audio formats, at 24 kHz."""
    return AudioEncoder(ENCODER_FORMATS[audio_format], plan.sample_rate, DEFAULT_OUTPUT_RATE)


class ReplySpeaker:
    def __init__(self, plan: SpeechPlan, encoder: Encoder, admitted: bool = False,
                 voices: ReplyVoices | None = None) -> None:  # fmt: skip
        self.plan = plan
        """The reply's own voice; its rate is the encoder's, another voice's is resampled."""
        self.encoder = encoder
        self.admitted = admitted
        """True for work already admitted elsewhere (a realtime session, within its key's
        session limit): its sentences wait for a worker instead of taking a place in the
        request queue, where a full queue would refuse them."""
        self.voices = voices
        """Where given, each sentence is spoken by the voices that read it."""
        self.sentences = SentenceStream()
        self.samples_out = 0
        self.transcript: list[str] = []
        self.spoken_characters = 0
        self.marks: list[tuple[int, int]] = []
        """(milliseconds of audio, transcript characters spoken by then) after each sentence."""
        self._speaking: SpeechPlan = plan
        self._speaking_route: SpeechRoute | None = None
        self._resampler = StreamResampler(plan.sample_rate, plan.sample_rate)

    @property
    def rate(self) -> int:
        """The reply's rate: its own voice's, which the encoder takes."""
        return self.plan.sample_rate

    @property
    def seconds(self) -> float:
        return self.samples_out / self.rate

    @property
    def audio_tokens(self) -> int:
        return math.ceil(self.seconds * OUTPUT_TOKENS_PER_SECOND)

    def text(self, delta: str) -> AsyncIterator[bytes]:
        """The audio of the sentences ``delta`` completes (none until one is complete)."""
        self.transcript.append(delta)
        return self._speak(self.sentences.feed(delta))

    def say(self, phrase: str) -> AsyncIterator[bytes]:
        """Speak a phrase of our own (an acknowledgement) between the model's sentences."""
        self.transcript.append(phrase if phrase.endswith(" ") else phrase + " ")
        return self._speak([phrase])

    async def finish(self) -> AsyncIterator[bytes]:
        rest = self.sentences.flush()
        async for data in self._speak([rest] if rest else [], last=True):
            yield data
        if data := self._out(self._tail()) + self.encoder.finish():
            yield data

    async def _speak(self, sentences: list[str], last: bool = False) -> AsyncIterator[bytes]:
        for sentence in sentences:
            pieces = (
                self.voices.pieces(sentence)
                if self.voices is not None
                else [ReplyPiece(sentence, None, self.plan.style)]
            )
            for index, piece in enumerate(pieces):
                if piece.route != self._speaking_route and self.voices is not None:
                    if data := self._out(self._tail()):  # the voice before ends first
                        yield data
                    self._speaking = await self.voices.plan(piece)
                    self._speaking_route = piece.route
                    self._resampler = StreamResampler(self._speaking.sample_rate, self.rate)
                plan = self._speaking
                pause = not last and index == len(pieces) - 1
                async with plan.engine.reserve() if not self.admitted else nullcontext():
                    async for samples in plan.samples(plan.normalize(piece.text), pause):
                        if data := self._out(self._resampler.feed(samples)):
                            yield data
            self.spoken_characters += len(sentence) + 1
            self.marks.append((round(self.seconds * 1000), self.spoken_characters))

    def _tail(self) -> np.ndarray:
        """What the voice speaking now still holds (its shaper's, its resampler's)."""
        return np.concatenate(
            [self._resampler.feed(self._speaking.finish()), self._resampler.flush()]
        )

    def _out(self, samples: np.ndarray) -> bytes:
        self.samples_out += len(samples)
        return self.encoder.encode(samples)
