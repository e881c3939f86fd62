"""A stream resampled as it arrives (PyAV's swresample keeps its filter state between chunks)."""

from __future__ import annotations

import av
import numpy as np

from stepaudio_api.audio.frames import mono_float_frame


def resample(samples: np.ndarray, rate: int, to_rate: int) -> np.ndarray:
    """A whole clip, mono float32, from ``rate`` to ``to_rate`` (unchanged when equal)."""
    if rate == to_rate:
        return samples
    resampler = av.AudioResampler(format="flt", layout="mono", rate=to_rate)
    frames = resampler.resample(mono_float_frame(samples, rate, 0)) + resampler.resample(None)
    return np.concatenate([f.to_ndarray().reshape(-1) for f in frames])


class StreamResampler:
    """Mono float32 at ``input_rate`` in, mono float32 at ``output_rate`` out, chunk by chunk."""

    def __init__(self, input_rate: int, output_rate: int) -> None:
        self.input_rate = input_rate
        self.output_rate = output_rate
        self._resampler = (
            None
            if input_rate == output_rate
            else av.AudioResampler(format="flt", layout="mono", rate=output_rate)
        )
        self._pts = 0

    def feed(self, samples: np.ndarray) -> np.ndarray:
        if self._resampler is None or len(samples) == 0:
            return samples.astype(np.float32, copy=False)
        frame = mono_float_frame(samples, self.input_rate, self._pts)
        self._pts += len(samples)
        return self._join(self._resampler.resample(frame))

    def flush(self) -> np.ndarray:
        if self._resampler is None:
            return np.zeros(0, dtype=np.float32)
        return self._join(self._resampler.resample(None))

    @staticmethod
    def _join(frames: list[av.AudioFrame]) -> np.ndarray:
        if not frames:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.float32)
