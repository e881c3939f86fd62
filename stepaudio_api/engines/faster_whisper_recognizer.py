"""Embedded speech recognition: faster-whisper (CTranslate2) with a model from pip packages."""

from __future__ import annotations

import importlib
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np

from stepaudio_api.engines.base import (
    Recognizer,
    Segment,
    TokenLogprob,
    TranscriptionOptions,
    TranscriptionStream,
    Word,
)
from stepaudio_api.engines.split_model import joined_model_dir

SAMPLE_RATE = 16000
QUICK_MAX_SECONDS = 20.0
QUICK_PAD_SECONDS = 4.0
QUICK_MIN_CONTEXT_SECONDS = 10.0


async def _one(segment: Segment) -> AsyncIterator[Segment]:
    if segment.text:
        yield segment


def _model_dir(options: dict[str, Any]) -> Path:
    """``model_path``; or ``model_packages``, one model split across several packages (joined
    once into ``cache_dir``); or ``model_package``, one whose ``get_model_path()`` says where."""
    if "model_path" in options:
        return Path(options["model_path"])
    if "model_packages" in options:
        cache_dir = options.get("cache_dir")
        return joined_model_dir(
            list(options["model_packages"]), Path(cache_dir) if cache_dir else None
        )
    package = importlib.import_module(options["model_package"])
    return Path(package.get_model_path())


def _logprobs(words: list[Word]) -> list[TokenLogprob]:
    """Whisper's words (its tokens grouped as its tokenizer splits words: a leading space,
    punctuation attached); a word's probability is faster-whisper's, the mean of its tokens'
    probabilities in the pass that aligns the recognised text with the audio."""
    return [TokenLogprob(w.word, math.log(max(w.probability, 1e-12))) for w in words]


class FasterWhisperRecognizer(Recognizer):
    type = "faster-whisper"
    gives_logprobs = True

    def load(self) -> None:
        from faster_whisper import WhisperModel

        self._model = WhisperModel(
            str(_model_dir(self.options)),
            device="cpu",
            compute_type=self.options.get("compute_type", "int8"),
            cpu_threads=int(self.options.get("cpu_threads", 2)),
        )
        self._beam_size = int(self.options.get("beam_size", 5))
        # faster-whisper lists the large-v3 languages for every multilingual model, "yue"
        # included; only those with a token in this model's vocabulary can be asked for
        tokens = self._model.hf_tokenizer
        self.languages = tuple(
            code
            for code in self._model.supported_languages
            if not self._model.model.is_multilingual
            or tokens.token_to_id(f"<|{code}|>") is not None
        )
        self.can_translate = self._model.model.is_multilingual

    def warm(self) -> None:
        # a few tokens run the encoder and decoder once; unbounded, whisper base hallucinates
        # 448 tokens on this second of silence (3.4 s of the server's start)
        segments, _info = self._model.transcribe(
            np.zeros(16000, np.float32), language="en", temperature=0.0, max_new_tokens=4
        )
        list(segments)

    def _quick(self, audio: np.ndarray, options: TranscriptionOptions,
               language: str) -> Segment | None:  # fmt: skip
        """One greedy pass of CTranslate2's Whisper over a short context: the audio and
        QUICK_PAD_SECONDS of silence, at least ``quick_min_context_seconds`` (10), instead of
        the 30 s window faster-whisper always pads to. Whisper's encoder costs in proportion
        to its window, so a 3 s turn is heard in a fifth of the time (74 against 393 ms
        here), at a like error rate on clean and lightly noisy speech, about twice as high
        in heavy noise (bench/asr_context.py). A shorter window than that, and Whisper
        repeats itself on noisy input."""
        import ctranslate2
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_compression_ratio

        model = self._model
        features = model.feature_extractor(audio)
        least = float(self.options.get("quick_min_context_seconds", QUICK_MIN_CONTEXT_SECONDS))
        seconds = max(least, len(audio) / SAMPLE_RATE + QUICK_PAD_SECONDS)
        frames = min(3000, math.ceil(seconds / 2) * 200)  # whole 2 s steps, at most 30 s
        window = np.zeros((1, features.shape[0], frames), np.float32)
        window[0, :, : min(frames, features.shape[-1])] = features[:, :frames]
        tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual,
                              task="transcribe", language=language)  # fmt: skip
        prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        if options.prompt:
            prompt = [tokenizer.sot_prev, *tokenizer.encode(" " + options.prompt.strip())[-223:],
                      *prompt]  # fmt: skip
        longest = min(448, int(12 + 8 * len(audio) / SAMPLE_RATE))  # no runaway repetition
        result = model.model.generate(
            ctranslate2.StorageView.from_array(window), [prompt], beam_size=1,
            max_length=longest, return_scores=True, return_no_speech_prob=True,
            suppress_blank=True, suppress_tokens=[-1],
        )[0]  # fmt: skip
        tokens = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
        text = tokenizer.decode(tokens)
        logprob = result.scores[0] if result.scores else 0.0
        ratio = get_compression_ratio(text) if text else 0.0
        if result.no_speech_prob > 0.6 and (logprob < -1.0 or not any(c.isalnum() for c in text)):
            text, tokens = "", []  # Whisper's no-speech rule (and dots are no words)
        elif ratio > 2.4:  # Whisper's own sign of a pass that repeated itself
            return None
        no_speech = float(result.no_speech_prob)
        return Segment(id=0, seek=0, start=0.0, end=len(audio) / SAMPLE_RATE, text=text,
                       tokens=tokens, temperature=0.0, avg_logprob=float(logprob),
                       compression_ratio=ratio, no_speech_prob=no_speech)  # fmt: skip

    def _start(self, audio: np.ndarray, options: TranscriptionOptions) -> tuple[Any, Any]:
        temperature: float | tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
        if options.temperature:
            temperature = options.temperature
        language = options.language
        if language is None and not self._model.model.is_multilingual:
            language = "en"
        return self._model.transcribe(
            audio,
            language=language,
            task=options.task if self.can_translate else "transcribe",
            initial_prompt=options.prompt or None,
            temperature=temperature,
            beam_size=self._beam_size,
            word_timestamps=options.word_timestamps or options.logprobs,
        )

    async def transcribe(
        self, audio: np.ndarray, options: TranscriptionOptions
    ) -> TranscriptionStream:
        duration = len(audio) / SAMPLE_RATE
        language = options.language or (None if self._model.model.is_multilingual else "en")
        quick = options.quick and not options.logprobs
        if quick and duration <= QUICK_MAX_SECONDS and language is not None:
            segment = await self.pool.run(self._quick, audio, options, language)
            if segment is not None:
                return TranscriptionStream(language, duration, _one(segment))
            # the one pass went wrong (it repeated itself): the usual road, with its fallbacks
        raw_segments, info = await self.pool.run(self._start, audio, options)

        async def segments() -> Any:
            index = 0
            async for raw in self.pool.iterate(raw_segments):
                words = None
                if raw.words is not None:
                    words = [
                        Word(w.word, float(w.start), float(w.end), float(w.probability))
                        for w in raw.words
                    ]
                logprobs = _logprobs(words or []) if options.logprobs else None
                yield Segment(
                    id=index,
                    seek=raw.seek,
                    start=float(raw.start),
                    end=float(raw.end),
                    text=raw.text,
                    tokens=list(raw.tokens),
                    temperature=float(raw.temperature or 0.0),
                    avg_logprob=float(raw.avg_logprob),
                    compression_ratio=float(raw.compression_ratio),
                    no_speech_prob=float(raw.no_speech_prob),
                    words=words if options.word_timestamps else None,
                    logprobs=logprobs,
                )
                index += 1

        return TranscriptionStream(info.language, info.duration, segments())
