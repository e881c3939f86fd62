"""The Codec engine interface: audio to Step-Audio's dual-codebook tokens and back.

Step-Audio hears and speaks through two codebooks: vq02 (linguistic, 1024 codes at 50/3 Hz, a
Paraformer encoder) and vq06 (semantic, 4096 codes at 25 Hz, CosyVoice's tokenizer),
interleaved two and three per 120 ms. The language models read them as the ids 65536 + c (vq02)
and 66560 + c (vq06), written ``<audio_N>`` with N = id - 65536. This module holds those
conventions (no torch: the API process uses them too) and the abstract engine.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from stepaudio_api.engines.base import Engine, PcmChunk

AUDIO_TOKEN_BASE = 65536
"""The LLM id of ``<audio_0>``; vq02 code c is ``AUDIO_TOKEN_BASE + c``."""
LINGUISTIC_CODES = 1024
SEMANTIC_CODES = 4096
SEMANTIC_BASE = AUDIO_TOKEN_BASE + LINGUISTIC_CODES
"""The LLM id of vq06 code 0 (``<audio_1024>``)."""
LINGUISTIC_PER_GROUP = 2
SEMANTIC_PER_GROUP = 3
GROUP_SECONDS = 0.12
"""One group (2 vq02 + 3 vq06 codes) covers 120 ms."""
LINGUISTIC_RATE = LINGUISTIC_PER_GROUP / GROUP_SECONDS
SEMANTIC_RATE = SEMANTIC_PER_GROUP / GROUP_SECONDS

CodecMode = Literal["speak", "music"]
"""Which decoder speaks the tokens: the speech one, or the one for RAP and humming."""


class CodecTokenError(ValueError):
    """Ids that are not an interleaved audio-token stream (out of range, or out of order)."""


@dataclass(frozen=True, slots=True)
class AudioTokens:
    """Both codebooks of a stretch of audio, as codes (not LLM ids)."""

    linguistic: np.ndarray
    """vq02 codes, 0..1023, one per 60 ms."""
    semantic: np.ndarray
    """vq06 codes, 0..4095, one per 40 ms."""

    @property
    def groups(self) -> int:
        """Whole 120 ms groups both codebooks cover: what the interleaved stream holds."""
        return min(
            len(self.linguistic) // LINGUISTIC_PER_GROUP, len(self.semantic) // SEMANTIC_PER_GROUP
        )

    @property
    def ids(self) -> np.ndarray:
        """The interleaved LLM ids: 2 vq02 then 3 vq06 per group; a partial group is left out,
        as Step-Audio's tokenizer does."""
        n = self.groups
        linguistic = np.asarray(self.linguistic[: n * LINGUISTIC_PER_GROUP], dtype=np.int64)
        semantic = np.asarray(self.semantic[: n * SEMANTIC_PER_GROUP], dtype=np.int64)
        grouped = np.concatenate(
            [
                linguistic.reshape(n, LINGUISTIC_PER_GROUP) + AUDIO_TOKEN_BASE,
                semantic.reshape(n, SEMANTIC_PER_GROUP) + SEMANTIC_BASE,
            ],
            axis=1,
        )
        return grouped.reshape(-1)

    @property
    def times(self) -> np.ndarray:
        """The start time in seconds of the audio each interleaved id stands for."""
        n = self.groups
        starts = np.arange(n, dtype=np.float64)[:, None] * GROUP_SECONDS
        within = np.concatenate(
            [
                np.arange(LINGUISTIC_PER_GROUP) / LINGUISTIC_RATE,
                np.arange(SEMANTIC_PER_GROUP) / SEMANTIC_RATE,
            ]
        )
        return (starts + within[None, :]).reshape(-1)

    @property
    def duration(self) -> float:
        return self.groups * GROUP_SECONDS

    def text(self) -> str:
        """The string form the LLMs read: ``<audio_N>`` for each interleaved id."""
        return ids_to_text(self.ids)

    @classmethod
    def from_ids(cls, ids: Iterable[int]) -> AudioTokens:
        """Split an interleaved stream of LLM ids into the two codebooks; ids of other tokens
        or out of the 2:3 order are refused."""
        values = np.asarray(list(ids), dtype=np.int64)
        if len(values) % (LINGUISTIC_PER_GROUP + SEMANTIC_PER_GROUP):
            raise CodecTokenError(
                f"{len(values)} audio tokens is not a whole number of groups of 5 "
                "(2 linguistic + 3 semantic)"
            )
        grouped = values.reshape(-1, LINGUISTIC_PER_GROUP + SEMANTIC_PER_GROUP)
        linguistic = grouped[:, :LINGUISTIC_PER_GROUP] - AUDIO_TOKEN_BASE
        semantic = grouped[:, LINGUISTIC_PER_GROUP:] - SEMANTIC_BASE
        if linguistic.size and (linguistic.min() < 0 or linguistic.max() >= LINGUISTIC_CODES):
            raise CodecTokenError(
                f"ids {AUDIO_TOKEN_BASE}..{SEMANTIC_BASE - 1} expected in the first two places "
                "of each group (linguistic codes)"
            )
        if semantic.size and (semantic.min() < 0 or semantic.max() >= SEMANTIC_CODES):
            raise CodecTokenError(
                f"ids {SEMANTIC_BASE}..{SEMANTIC_BASE + SEMANTIC_CODES - 1} expected in the last "
                "three places of each group (semantic codes)"
            )
        return cls(linguistic.reshape(-1), semantic.reshape(-1))


def ids_to_text(ids: Iterable[int]) -> str:
    return "".join(f"<audio_{int(i) - AUDIO_TOKEN_BASE}>" for i in ids)


def text_to_ids(text: str) -> list[int]:
    """The ids of a ``<audio_N><audio_M>...`` string (whitespace between tokens allowed)."""
    import re

    stripped = re.sub(r"\s+", "", text)
    found = re.findall(r"<audio_(\d+)>", stripped)
    if "".join(f"<audio_{n}>" for n in found) != stripped:
        raise CodecTokenError("expected only <audio_N> tokens")
    return [AUDIO_TOKEN_BASE + int(n) for n in found]


def is_audio_id(token_id: int) -> bool:
    return AUDIO_TOKEN_BASE <= token_id < SEMANTIC_BASE + SEMANTIC_CODES


@dataclass(slots=True)
class InterleavedStream:
    """Codes of both codebooks arriving at their own pace, given out as whole groups."""

    _linguistic: list[int] = field(default_factory=list)
    _semantic: list[int] = field(default_factory=list)
    _groups_out: int = 0

    def add(self, linguistic: Iterable[int], semantic: Iterable[int]) -> np.ndarray:
        """Take newly final codes; return the interleaved ids of the groups now complete."""
        self._linguistic.extend(int(c) for c in linguistic)
        self._semantic.extend(int(c) for c in semantic)
        tokens = AudioTokens(np.asarray(self._linguistic), np.asarray(self._semantic))
        ids = tokens.ids[self._groups_out * (LINGUISTIC_PER_GROUP + SEMANTIC_PER_GROUP) :]
        self._groups_out = tokens.groups
        return ids

    def tokens(self) -> AudioTokens:
        return AudioTokens(
            np.asarray(self._linguistic, dtype=np.int64), np.asarray(self._semantic, dtype=np.int64)
        )


@dataclass(frozen=True, slots=True)
class CodecPrompt:
    """A voice as the decoder clones it: the prompt clip's tokens, mel and speaker embedding,
    computed once (at voice upload) and kept in the store."""

    ids: np.ndarray
    """Interleaved LLM ids of the prompt clip (int64)."""
    mel: np.ndarray
    """(frames, 80) float32 log-mel of the clip at 22050 / 256 Hz (the flow's condition)."""
    speaker: np.ndarray
    """(192,) float32 CAM++ speaker embedding."""
    transcript: str = ""


class CodecStream:
    """Tokenization while listening: feed 16 kHz audio in any pieces, read the ids that became
    final; ``finish`` flushes the rest. The ids equal those of tokenizing the whole clip."""

    @abstractmethod
    async def feed(self, samples: np.ndarray) -> np.ndarray:
        """16 kHz mono float32 samples in; the interleaved ids now final out."""

    @abstractmethod
    async def finish(self) -> AudioTokens:
        """Flush; the tokens of everything fed (both codebooks, whole)."""


class Codec(Engine):
    """Step-Audio's tokenizer and decoder as one engine."""

    input_sample_rate: ClassVar[int] = 16000
    sample_rate: int = 22050
    modes: tuple[CodecMode, ...] = ("speak",)

    @abstractmethod
    async def tokenize(self, audio: np.ndarray) -> AudioTokens:
        """16 kHz mono float32 audio to both codebooks."""

    @abstractmethod
    def tokenize_stream(self) -> CodecStream:
        """A streaming tokenization (a realtime session's, as it listens)."""

    @abstractmethod
    def detokenize(
        self,
        ids: AsyncIterator[int] | Iterable[int],
        prompt: CodecPrompt | None = None,
        mode: CodecMode = "speak",
        seed: int = 0,
    ) -> AsyncIterator[PcmChunk]:
        """Interleaved LLM ids (all at once, or as an LLM makes them) to audio in chunks; the
        same ids, prompt and seed give the same audio."""

    @abstractmethod
    async def prepare_prompt(
        self, audio: np.ndarray, sample_rate: int, transcript: str = ""
    ) -> CodecPrompt:
        """What the decoder needs to speak in the voice of a clip."""

    def describe(self) -> dict[str, Any]:
        return {
            "capability": "codec",
            "input_sample_rate": self.input_sample_rate,
            "sample_rate": self.sample_rate,
            "codebooks": {
                "linguistic": {"codes": LINGUISTIC_CODES, "rate": LINGUISTIC_RATE},
                "semantic": {"codes": SEMANTIC_CODES, "rate": SEMANTIC_RATE},
            },
            "modes": list(self.modes),
            "streaming": True,
        }
