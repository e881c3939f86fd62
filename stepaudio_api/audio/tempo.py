"""Change speed without changing pitch: ffmpeg's atempo filter (WSOLA), streaming, via PyAV."""

from __future__ import annotations

import av
import av.filter
import numpy as np

from stepaudio_api.audio.frames import mono_float_frame

ATEMPO_MIN = 0.5  # one atempo instance accepts 0.5..100; chain instances below that


def _atempo_factors(speed: float) -> list[float]:
    factors: list[float] = []
    while speed < ATEMPO_MIN:
        factors.append(ATEMPO_MIN)
        speed /= ATEMPO_MIN
    factors.append(speed)
    return factors


class TempoStretcher:
    """Feed mono float32 chunks; get them back ``speed`` times faster, pitch unchanged."""

    def __init__(self, sample_rate: int, speed: float) -> None:
        self.sample_rate = sample_rate
        self._graph = av.filter.Graph()
        self._source = self._graph.add_abuffer(format="flt", sample_rate=sample_rate, layout="mono")
        node = self._source
        for factor in _atempo_factors(speed):
            stage = self._graph.add("atempo", f"{factor:.6f}")
            node.link_to(stage)
            node = stage
        self._sink = self._graph.add("abuffersink")
        node.link_to(self._sink)
        self._graph.configure()
        self._pts = 0

    def _pull(self) -> np.ndarray:
        pieces: list[np.ndarray] = []
        while True:
            try:
                frame = self._sink.pull()
            except (BlockingIOError, EOFError, av.error.EOFError):
                break
            pieces.append(frame.to_ndarray().reshape(-1))
        return np.concatenate(pieces) if pieces else np.zeros(0, np.float32)

    def process(self, samples: np.ndarray) -> np.ndarray:
        self._source.push(mono_float_frame(samples, self.sample_rate, self._pts))
        self._pts += len(samples)
        return self._pull()

    def finish(self) -> np.ndarray:
        self._source.push(None)
        return self._pull()
