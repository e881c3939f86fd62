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


def load_piper_voice(model_path: Path, config: dict[str, Any], spinning: bool) -> Any:
    """A PiperVoice whose onnxruntime threads sleep when idle: spin-waiting threads would take
    the CPU from the other engine and the event loop on a small machine. Without
    onnxruntime's memory arena: it keeps the peak of the longest sentence yet (some 160 MB
    after a few long ones, never given back), where plain allocations are freed after each
    sentence; the cost is some 10% of Piper's speed (bench/piper_memory.py)."""
    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig

    options = onnxruntime.SessionOptions()
    options.enable_cpu_mem_arena = False
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    session = onnxruntime.InferenceSession(
        str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
    )
    return PiperVoice(config=PiperConfig.from_dict(config), session=session)


class PiperSynthesizer(Synthesizer):
    type = "piper"
    # Piper's length_scale is not proportional to duration (0.5 gives ~0.63x here), so speed
    # is left to serving's time-stretch.
    native_speed = False

    def load(self) -> None:
        model_path, config_path = _voice_files(self.options)
        config = json.loads(config_path.read_text(encoding="utf-8"))
        self._voice = load_piper_voice(model_path, config, self.options.get("spinning", False))
        from piper import SynthesisConfig

        # Piper samples each phoneme's duration (noise_w) and the flow's noise anew per call,
        # so one sentence was heard differently from one synthesis to the next; with both at 0
        # the voice says a text the same way every time (bench/piper_stability.py: round-trip
        # WER 0.016 against 0.047 at Piper's 0.667 / 0.8), at the cost of a more even rhythm.
        self._synthesis = SynthesisConfig(
            noise_scale=float(self.options.get("noise_scale", 0.0)),
            noise_w_scale=float(self.options.get("noise_w_scale", 0.0)),
        )
        language = config.get("language", {}).get("code") or config["espeak"]["voice"]
        self.sample_rate = self._voice.config.sample_rate
        self.languages = (language.split("_")[0].split("-")[0],)
        self.voices = (
            VoiceInfo(
                name=self.options.get("voice_name", model_path.stem),
                language=language,
                description=f"Piper voice {model_path.stem}",
            ),
        )

    def warm(self) -> None:
        for _chunk in self._voice.synthesize("Hello.", syn_config=self._synthesis):
            pass

    async def synthesize(self, text: str, options: SynthesisOptions) -> AsyncIterator[PcmChunk]:
        # native_speed is False, so options.speed is always 1.0 here: the voice's own pace
        async for chunk in self.pool.iterate(
            iter(self._voice.synthesize(text, syn_config=self._synthesis))
        ):
            yield PcmChunk(np.asarray(chunk.audio_float_array, np.float32), self.sample_rate)
