"""A chat reply spoken as its text arrives: each sentence as soon as it is complete."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import nullcontext
from typing import Protocol

import numpy as np

from stepaudio_api.audio.encode import DEFAULT_OUTPUT_RATE, AudioEncoder
from stepaudio_api.serving.sentence_stream import SentenceStream
from stepaudio_api.serving.speech import OUTPUT_TOKENS_PER_SECOND
from stepaudio_api.serving.speech_plan import SpeechPlan

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
    def __init__(self, plan: SpeechPlan, encoder: Encoder, admitted: bool = False) -> None:
        self.plan = plan
        self.encoder = encoder
        self.admitted = admitted
        """True for work already admitted elsewhere (a realtime session, within its key's
        session limit): its sentences wait for a worker instead of taking a place in the
        request queue, where a full queue would refuse them."""
        self.sentences = SentenceStream()
        self.samples_out = 0
        self.transcript: list[str] = []
        self.spoken_characters = 0
        self.marks: list[tuple[int, int]] = []
        """(milliseconds of audio, transcript characters spoken by then) after each sentence."""

    @property
    def seconds(self) -> float:
        return self.samples_out / self.plan.sample_rate

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
        tail = self.plan.finish()
        self.samples_out += len(tail)
        if data := self.encoder.encode(tail) + self.encoder.finish():
            yield data

    async def _speak(self, sentences: list[str], last: bool = False) -> AsyncIterator[bytes]:
        for sentence in sentences:
            async with self.plan.engine.reserve() if not self.admitted else nullcontext():
                spoken = self.plan.normalize(sentence)
                async for samples in self.plan.samples(spoken, pause_after=not last):
                    self.samples_out += len(samples)
                    if data := self.encoder.encode(samples):
                        yield data
            self.spoken_characters += len(sentence) + 1
            self.marks.append((round(self.seconds * 1000), self.spoken_characters))
