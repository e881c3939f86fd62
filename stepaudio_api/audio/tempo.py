"""Change speed without changing pitch: ffmpeg's atempo filter (WSOLA), streaming, via PyAV."""

from __future__ import annotations

import av
import av.filter
import numpy as np

from stepaudio_api.audio.frames import mono_float_frame

ATEMPO_MIN = 0.5  # one atempo instance accepts 0.5..100; chain instances below that


def atempo_stages(speed: float) -> list[tuple[str, str]]:
    """atempo filters whose product is ``speed`` (none for 1.0)."""
    if abs(speed - 1.0) < 1e-6:
        return []
    factors: list[float] = []
    while speed < ATEMPO_MIN:
        factors.append(ATEMPO_MIN)
        speed /= ATEMPO_MIN
    factors.append(speed)
    return [("atempo", f"{factor:.6f}") for factor in factors]


class AudioFilterChain:
    """Mono float32 chunks through a chain of ffmpeg audio filters, streaming; what comes out
    is mono float32 at the input's rate."""

    def __init__(self, sample_rate: int, stages: list[tuple[str, str]]) -> None:
        self.sample_rate = sample_rate
        self._graph = av.filter.Graph()
        self._source = self._graph.add_abuffer(format="flt", sample_rate=sample_rate, layout="mono")
        node = self._source
        output = f"sample_fmts=flt:sample_rates={sample_rate}:channel_layouts=mono"
        for name, arguments in [*stages, ("aformat", output)]:
            stage = self._graph.add(name, arguments)
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


class TempoStretcher(AudioFilterChain):
    """Feed mono float32 chunks; get them back ``speed`` times faster, pitch unchanged."""

    def __init__(self, sample_rate: int, speed: float) -> None:
        super().__init__(sample_rate, atempo_stages(speed))
