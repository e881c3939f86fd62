"""Mono float32 samples as a PyAV frame: the one conversion the encoders and filters share."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np


def mono_float_frame(samples: np.ndarray, sample_rate: int, pts: int) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(samples, dtype=np.float32).reshape(1, -1), format="flt", layout="mono"
    )
    frame.sample_rate = sample_rate
    frame.pts = pts
    frame.time_base = Fraction(1, sample_rate)
    return frame
