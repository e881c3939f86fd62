"""An hour-long upload is decoded and recognised a piece at a time: the server stays under 1 GB
resident throughout (720 to 760 MB here; an hour decoded and heard whole took it to 1.5 GB),
and the times run on across the pieces. About 16 s a database on an idle machine."""

from __future__ import annotations

import io
import threading
import time

import av
import numpy as np
import psutil
import pytest
from audio_checks import JFK, word_error_rate
from conftest import ServerProcess
from databases import Backend, fresh_database_url

from stepaudio_api.audio.decode import decode_audio

EVERY_SECONDS = 300
"""A reading of en_jfk.flac (11 s) every five minutes, silence between: twelve in the hour."""
HOUR = 3600


def an_hour_of_jfk(speech: np.ndarray) -> bytes:
    """16 kHz mono FLAC, made here (its silence costs FLAC next to nothing: about 2 MB)."""
    reading = np.zeros(16000 * EVERY_SECONDS, np.int16)
    reading[: len(speech)] = (np.clip(speech, -1, 1) * 32767).astype(np.int16)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="flac") as out:
        stream = out.add_stream("flac", rate=16000)
        stream.layout = "mono"
        for _ in range(HOUR // EVERY_SECONDS):
            frame = av.AudioFrame.from_ndarray(reading.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = 16000
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


@pytest.fixture
def own_server(db_backend: Backend, tmp_path: object) -> object:
    """A server of its own, every engine loaded and nothing else served before: the hour's
    memory is measured, not what two hundred earlier tests left in the suite's shared one."""
    process = ServerProcess(tmp_path, fresh_database_url(db_backend))  # type: ignore[arg-type]
    yield process
    process.stop()


class PeakMemory:
    """The process's largest resident size while the block runs, sampled every 50 ms."""

    def __init__(self, pid: int) -> None:
        self.process, self.peak, self._done = psutil.Process(pid), 0, threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._done.wait(0.05):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()


@pytest.mark.slow
def test_an_hour_is_heard_in_pieces_in_bounded_memory(own_server: ServerProcess, testdata) -> None:  # type: ignore[no-untyped-def]
    server = own_server
    speech = decode_audio((testdata / "en_jfk.flac").read_bytes(), 16000).samples
    upload = an_hour_of_jfk(speech)
    client = server.client(timeout=600)
    with PeakMemory(server.process.pid) as memory:
        started = time.monotonic()
        result = client.audio.transcriptions.create(
            model="step-audio-asr", file=("hour.flac", upload), response_format="verbose_json",
            timestamp_granularities=["segment"],
        )  # fmt: skip
        seconds = time.monotonic() - started
    assert memory.peak < 1024**3, f"{memory.peak / 2**20:.0f} MB resident"
    assert result.duration == pytest.approx(HOUR, abs=0.1)
    readings = HOUR // EVERY_SECONDS
    assert word_error_rate(" ".join([JFK] * readings), result.text) <= 0.10, result.text
    starts = [s.start for s in result.segments]
    assert starts == sorted(starts) and result.segments[-1].end <= HOUR
    # each reading is heard where it is in the hour, not where its piece began
    firsts = [min((s.start for s in result.segments if s.start >= k * EVERY_SECONDS - 1),
                  default=None) for k in range(readings)]  # fmt: skip
    assert firsts == pytest.approx([k * EVERY_SECONDS for k in range(readings)], abs=0.5), firsts
    print(f"an hour in {seconds:.1f} s, {memory.peak / 2**20:.0f} MB at most")
