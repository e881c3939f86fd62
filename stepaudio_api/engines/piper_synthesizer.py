"""Embedded text to speech: Piper (onnxruntime) with a voice that ships as a pip package."""

from __future__ import annotations

import importlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np

from stepaudio_api.engines.base import PcmChunk, SynthesisOptions, Synthesizer, VoiceInfo


def _voice_files(options: dict[str, Any]) -> tuple[Path, Path]:
    """The .onnx model and its .json config, from a voice package or from explicit paths."""
    if "model_path" in options:
        model = Path(options["model_path"])
        return model, Path(options.get("config_path", f"{model}.json"))
    package = importlib.import_module(options["voice_package"])
    return Path(package.model_path()), Path(package.config_path())


class PiperSynthesizer(Synthesizer):
    type = "piper"
    # Piper's length_scale is not proportional to duration (0.5 gives ~0.63x here), so speed
    # is left to serving's time-stretch.
    native_speed = False

    def load(self) -> None:
        from piper import PiperVoice

        model_path, config_path = _voice_files(self.options)
        self._voice = PiperVoice.load(model_path, config_path)
        config = json.loads(config_path.read_text(encoding="utf-8"))
        language = config.get("language", {}).get("code") or config["espeak"]["voice"]
        self.sample_rate = self._voice.config.sample_rate
        self._length_scale = self._voice.config.length_scale
        self.languages = (language.split("_")[0].split("-")[0],)
        self.voices = (
            VoiceInfo(
                name=self.options.get("voice_name", model_path.stem),
                language=language,
                description=f"Piper voice {model_path.stem}",
            ),
        )

    def warm(self) -> None:
        for _chunk in self._voice.synthesize("Hello."):
            pass

    async def synthesize(self, text: str, options: SynthesisOptions) -> AsyncIterator[PcmChunk]:
        from piper import SynthesisConfig

        config = SynthesisConfig(length_scale=self._length_scale / options.speed)
        async for chunk in self.pool.iterate(iter(self._voice.synthesize(text, config))):
            yield PcmChunk(np.asarray(chunk.audio_float_array, np.float32), self.sample_rate)
