"""The ``step-audio-codec`` engine: Step-Audio's tokenizer and decoder behind the Codec
interface, loaded from the released folders, run in the server's worker pool."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from stepaudio_api.audio.resample import resample
from stepaudio_api.engines.base import EngineNotConfigured, PcmChunk
from stepaudio_api.engines.codec import (
    AudioTokens,
    Codec,
    CodecMode,
    CodecPrompt,
    CodecStream,
    CodecTokenError,
    is_audio_id,
)

logger = logging.getLogger(__name__)

DTYPES = ("float32", "bfloat16", "float16")


class StepAudioCodec(Codec):
    """Options: ``tokenizer_dir`` (Step-Audio-Tokenizer/), ``decoder_dir`` (Step-Audio-TTS-3B/
    or one CosyVoice folder), ``device`` ("cpu", "cuda", "cuda:1"), ``dtype`` (float32,
    bfloat16), ``stream_hop_tokens`` / ``stream_overlap_tokens`` (the streaming decode's
    windows). Either folder may be left out: the engine then only tokenizes or decodes."""

    type = "step-audio-codec"
    sample_rate = 22050

    def load(self) -> None:
        try:
            import torch
        except ImportError as exc:  # the plugin installed without its dependencies
            raise EngineNotConfigured(f"PyTorch is not installed ({exc})") from None
        from stepaudio_codec.dual_tokenizer import DualTokenizer
        from stepaudio_codec.folders import DecoderFolders, TokenizerFolder
        from stepaudio_codec.token_decoder import CosyVoiceDecoder, StreamShape

        tokenizer_dir = self.options.get("tokenizer_dir")
        decoder_dir = self.options.get("decoder_dir")
        if not tokenizer_dir and not decoder_dir:
            raise EngineNotConfigured("set tokenizer_dir and/or decoder_dir to the model folders")
        device = str(self.options.get("device", "cpu"))
        dtype_name = str(self.options.get("dtype", "float32"))
        if dtype_name not in DTYPES:
            raise EngineNotConfigured(f"dtype must be one of {', '.join(DTYPES)}")
        dtype = getattr(torch, dtype_name)
        self.shape = StreamShape(
            first_hop=int(self.options.get("stream_first_hop_tokens", 50)),
            hop=int(self.options.get("stream_hop_tokens", 100)),
            overlap=int(self.options.get("stream_overlap_tokens", 20)),
        )
        self.tokenizer = (
            DualTokenizer.load(TokenizerFolder.check(Path(tokenizer_dir)), device, dtype)
            if tokenizer_dir
            else None
        )
        self.decoders: dict[str, CosyVoiceDecoder] = {}
        if decoder_dir:
            folders = DecoderFolders.check(Path(decoder_dir))
            self.decoders["speak"] = CosyVoiceDecoder.load(folders.speak, device, dtype)
            if folders.music is not None:
                self.decoders["music"] = CosyVoiceDecoder.load(folders.music, device, dtype)
        self.modes = tuple(self.decoders)  # type: ignore[assignment]

    def warm(self) -> None:
        if self.tokenizer is not None:
            self.tokenizer.tokenize(np.zeros(16000, dtype=np.float32))
        for decoder in self.decoders.values():
            decoder.decode(np.asarray([65536, 65537, 66560, 66561, 66562] * 2))

    def _require_tokenizer(self) -> Any:
        if self.tokenizer is None:
            raise CodecTokenError(f"codec engine {self.name} has no tokenizer (tokenizer_dir)")
        return self.tokenizer

    def _decoder(self, mode: CodecMode) -> Any:
        decoder = self.decoders.get(mode)
        if decoder is None:
            known = ", ".join(self.decoders) or "none (decoder_dir is not set)"
            raise CodecTokenError(f"codec engine {self.name} has no '{mode}' decoder: {known}")
        return decoder

    async def tokenize(self, audio: np.ndarray, normalize: bool = True) -> AudioTokens:
        tokenizer = self._require_tokenizer()
        return await self.pool.run(tokenizer.tokenize, np.asarray(audio, np.float32), normalize)

    def tokenize_stream(self) -> CodecStream:
        return _PooledTokenStream(self, self._require_tokenizer().stream())

    async def prepare_prompt(
        self, audio: np.ndarray, sample_rate: int, transcript: str = ""
    ) -> CodecPrompt:
        tokenizer = self._require_tokenizer()
        decoder = self._decoder("speak")

        def prepare() -> CodecPrompt:
            audio16k = resample(audio, sample_rate, 16000)
            audio22k = resample(audio, sample_rate, decoder.sample_rate)
            tokens = tokenizer.tokenize(audio16k, True)
            mel, speaker = decoder.prompt_parts(audio16k, audio22k)
            return CodecPrompt(tokens.ids, mel, speaker, transcript)

        return await self.pool.run(prepare)

    async def detokenize(
        self,
        ids: AsyncIterator[int] | Iterable[int],
        prompt: CodecPrompt | None = None,
        mode: CodecMode = "speak",
        seed: int = 0,
    ) -> AsyncIterator[PcmChunk]:
        decoder = self._decoder(mode)
        stream = decoder.stream(prompt, seed, self.shape)
        pending: list[int] = []
        async for token_id in _each(ids):
            if not is_audio_id(token_id):
                raise CodecTokenError(f"id {token_id} is not an audio token (65536..70655)")
            pending.append(token_id)
            if len(pending) >= self.shape.hop // 2:
                audio = await self.pool.run(stream.feed, pending)
                pending = []
                if len(audio):
                    yield PcmChunk(audio, decoder.sample_rate)
        if pending:
            audio = await self.pool.run(stream.feed, pending)
            if len(audio):
                yield PcmChunk(audio, decoder.sample_rate)
        audio = await self.pool.run(stream.finish)
        if len(audio):
            yield PcmChunk(audio, decoder.sample_rate)

    def describe(self) -> dict[str, Any]:
        described = super().describe()
        described["tokenizes"] = getattr(self, "tokenizer", None) is not None
        return described


async def _each(ids: AsyncIterator[int] | Iterable[int]) -> AsyncIterator[int]:
    if hasattr(ids, "__aiter__"):
        async for token_id in ids:  # type: ignore[union-attr]
            yield int(token_id)
    else:
        for index, token_id in enumerate(ids):  # type: ignore[union-attr]
            yield int(token_id)
            if index % 256 == 255:
                await asyncio.sleep(0)


class _PooledTokenStream(CodecStream):
    """The tokenizer's stream, its work done in the worker pool one piece at a time."""

    def __init__(self, engine: StepAudioCodec, stream: Any) -> None:
        self.engine = engine
        self.stream = stream
        self._lock = asyncio.Lock()

    async def feed(self, samples: np.ndarray) -> np.ndarray:
        async with self._lock:
            return await self.engine.pool.run(self.stream.feed, np.asarray(samples, np.float32))

    async def finish(self) -> AudioTokens:
        async with self._lock:
            return await self.engine.pool.run(self.stream.finish)
