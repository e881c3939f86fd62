"""Both codebooks at once: audio to Step-Audio's interleaved audio tokens, whole or streaming."""

from __future__ import annotations

import numpy as np
import torch

from stepaudio_api.engines.codec import AudioTokens, InterleavedStream
from stepaudio_codec.folders import TokenizerFolder
from stepaudio_codec.tokenizer.linguistic import LinguisticTokenizer
from stepaudio_codec.tokenizer.semantic import SemanticTokenizer


def peak_normalize(audio: np.ndarray) -> np.ndarray:
    """Step-Audio's energy normalisation before tokenizing a whole clip: the peak to 0.999,
    never amplifying by more than 99.9 (a floor of 0.01 on the peak)."""
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    return (audio / max(peak, 0.01) * 0.999).astype(np.float32)


class DualTokenizer:
    """vq02 (linguistic) and vq06 (semantic) of 16 kHz mono audio."""

    def __init__(self, linguistic: LinguisticTokenizer, semantic: SemanticTokenizer) -> None:
        self.linguistic = linguistic
        self.semantic = semantic

    @classmethod
    def load(
        cls, folder: TokenizerFolder, device: str = "cpu", dtype: torch.dtype = torch.float32
    ) -> DualTokenizer:
        return cls(
            LinguisticTokenizer.load(folder.root, device=device, dtype=dtype),
            SemanticTokenizer.load(folder.semantic_onnx, device=device, dtype=dtype),
        )

    def tokenize(self, audio: np.ndarray, normalize: bool = True) -> AudioTokens:
        """The whole clip; ``normalize`` applies Step-Audio's peak normalisation first (a
        stream cannot know the peak ahead, so it tokenizes the audio as it comes)."""
        audio = np.asarray(audio, dtype=np.float32)
        if normalize:
            audio = peak_normalize(audio)
        return AudioTokens(
            np.asarray(self.linguistic.tokenize(audio), dtype=np.int64),
            np.asarray(self.semantic.tokenize(audio), dtype=np.int64),
        )

    def stream(self) -> DualTokenStream:
        return DualTokenStream(self)


class DualTokenStream:
    """Audio fed in pieces of any size; each call gives the interleaved ids of the groups that
    both codebooks have made final. The result equals ``tokenize(audio, normalize=False)``."""

    def __init__(self, tokenizer: DualTokenizer) -> None:
        self._linguistic = tokenizer.linguistic.stream()
        self._semantic = tokenizer.semantic.stream()
        self._groups = InterleavedStream()

    def feed(self, samples: np.ndarray) -> np.ndarray:
        samples = np.asarray(samples, dtype=np.float32)
        return self._groups.add(self._linguistic.feed(samples), self._semantic.feed(samples))

    def finish(self) -> AudioTokens:
        self._groups.add(self._linguistic.finish(), self._semantic.finish())
        return self._groups.tokens()
