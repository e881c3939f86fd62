"""Embedded speech recognition: faster-whisper (CTranslate2) with a model from pip packages."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np

from stepaudio_api.engines.base import (
    Recognizer,
    Segment,
    TranscriptionOptions,
    TranscriptionStream,
    Word,
)
from stepaudio_api.engines.split_model import joined_model_dir


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


class FasterWhisperRecognizer(Recognizer):
    type = "faster-whisper"

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
            word_timestamps=options.word_timestamps,
        )

    async def transcribe(
        self, audio: np.ndarray, options: TranscriptionOptions
    ) -> TranscriptionStream:
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
                    words=words,
                )
                index += 1

        return TranscriptionStream(info.language, info.duration, segments())
