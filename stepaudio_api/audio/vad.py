"""Streaming voice activity: Silero VAD (the ONNX model faster-whisper ships) fed 32 ms windows
of 16 kHz audio as they arrive, its recurrent state carried from one window to the next."""

from __future__ import annotations

import os
from functools import cache
from typing import NamedTuple

import numpy as np

VAD_SAMPLE_RATE = 16000
WINDOW = 512
"""Samples per window at 16 kHz: 32 ms, Silero's unit."""
CONTEXT = 64


@cache
def _session() -> object:
    """One inference session for the process (thread-safe to run; ~2 MB)."""
    import onnxruntime
    from faster_whisper.utils import get_assets_path

    path = os.path.join(get_assets_path(), "silero_vad_v6.onnx")
    options = onnxruntime.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = 1
    options.log_severity_level = 4
    return onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"],
                                        sess_options=options)  # fmt: skip


class VadWindow(NamedTuple):
    probability: float
    """Silero's: that the window holds speech."""
    rms: float
    """The window's loudness (root mean square, full scale 1.0)."""


class SpeechProbabilities:
    """Feed 16 kHz float32 audio in any chunk sizes; get each 32 ms window's speech probability
    and loudness."""

    def __init__(self) -> None:
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros((1, CONTEXT), dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)

    def feed(self, samples: np.ndarray) -> list[VadWindow]:
        audio = np.concatenate([self._pending, samples.astype(np.float32, copy=False)])
        whole = len(audio) // WINDOW * WINDOW
        self._pending = audio[whole:]
        if not whole:
            return []
        windows = audio[:whole].reshape(-1, WINDOW)
        # one run over every whole window: the model carries its state from one row of the
        # batch to the next, as window by window (the same numbers, in a third of the time)
        context = np.concatenate([self._context, windows[:-1, -CONTEXT:]])
        self._context = windows[-1:, -CONTEXT:]
        session = _session()
        h, c = self._state[0:1], self._state[1:2]
        output, h, c = session.run(None, {"input": np.concatenate([context, windows], axis=1),
                                          "h": h, "c": c})  # type: ignore[attr-defined]  # fmt: skip
        self._state = np.concatenate([h, c])
        probabilities = np.asarray(output).reshape(-1)
        loudness = np.sqrt(np.mean(np.square(windows), axis=1))
        return [VadWindow(float(p), float(r)) for p, r in zip(probabilities, loudness, strict=True)]


MIN_SILENCE_MS = 2000
"""A silence this long is taken out before recognition (faster-whisper's own vad_filter
default): shorter pauses belong to the speech around them."""
SPEECH_PAD_MS = 400


def speech_spans(samples: np.ndarray) -> list[tuple[int, int]]:
    """Where 16 kHz audio holds speech, as (start, end) sample indexes, padded by
    SPEECH_PAD_MS; silences of MIN_SILENCE_MS and more lie between them. Silero batched over
    the whole recording (about 2 ms per second of audio here)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(min_silence_duration_ms=MIN_SILENCE_MS, speech_pad_ms=SPEECH_PAD_MS)
    return [(s["start"], s["end"]) for s in get_speech_timestamps(samples, options)]
