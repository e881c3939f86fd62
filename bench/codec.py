"""Benchmark: Step-Audio's codec on this machine, tiny random checkpoints in the released
layout (the real sizes need a GPU: bench/gpu/codec.py). Tokenize and detokenize real-time
factors (seconds of compute per second of audio), through the engine (the worker pool, the
streaming decode) beside the raw modules, as a ratio.

Run: python bench/codec.py [--repeats 3] [--seconds 11]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from stepaudio_api.audio.decode import decode_audio  # noqa: E402
from stepaudio_api.engines.worker_pool import WorkerPool  # noqa: E402


def best(times: list[float]) -> float:
    return min(times)


async def run(repeats: int, seconds: float) -> None:
    from stepaudio_codec.dual_tokenizer import DualTokenizer
    from stepaudio_codec.engine import StepAudioCodec
    from stepaudio_codec.folders import DecoderFolders, TokenizerFolder
    from stepaudio_codec.tiny import write_tiny_checkpoints
    from stepaudio_codec.token_decoder import CosyVoiceDecoder

    clip = decode_audio((ROOT / "tests/data/en_jfk.flac").read_bytes(), 16000).samples
    audio = np.resize(clip, int(seconds * 16000)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        write_tiny_checkpoints(Path(tmp), seed=0, only=("tokenizer", "tts"))
        tokenizer_dir = Path(tmp) / "Step-Audio-Tokenizer"
        decoder_dir = Path(tmp) / "Step-Audio-TTS-3B"
        raw_tokenizer = DualTokenizer.load(TokenizerFolder.check(tokenizer_dir))
        raw_decoder = CosyVoiceDecoder.load(DecoderFolders.check(decoder_dir).speak)
        engine = StepAudioCodec(
            "codec",
            {"tokenizer_dir": str(tokenizer_dir), "decoder_dir": str(decoder_dir)},
            WorkerPool(2, 8, 1.0),
        )
        engine.load()
        engine.warm()
        ids = raw_tokenizer.tokenize(audio).ids
        duration = len(ids) / 5 * 0.12
        figures: dict[str, list[float]] = {
            k: [] for k in ("tok_raw", "tok_eng", "dec_raw", "dec_eng")
        }
        for _ in range(repeats):
            started = time.perf_counter()
            raw_tokenizer.tokenize(audio)
            figures["tok_raw"].append(time.perf_counter() - started)
            started = time.perf_counter()
            await engine.tokenize(audio)
            figures["tok_eng"].append(time.perf_counter() - started)
            started = time.perf_counter()
            raw_decoder.decode(ids)
            figures["dec_raw"].append(time.perf_counter() - started)
            started = time.perf_counter()
            first = None
            async for _chunk in engine.detokenize(ids.tolist()):
                first = first or time.perf_counter() - started
            figures["dec_eng"].append(time.perf_counter() - started)
        print(
            f"audio: {seconds:.1f} s in, {len(ids)} tokens, {duration:.2f} s out (tiny sizes, CPU)"
        )
        for name, raw, served in (
            ("tokenize", "tok_raw", "tok_eng"),
            ("detokenize", "dec_raw", "dec_eng"),
        ):
            r, s = best(figures[raw]), best(figures[served])
            print(
                f"{name:10s} raw RTF {r / seconds if name == 'tokenize' else r / duration:.3f}  "
                f"engine RTF {s / seconds if name == 'tokenize' else s / duration:.3f}  "
                f"engine/raw {s / r:.2f}x  (best of {repeats}; median raw "
                f"{statistics.median(figures[raw]) * 1000:.0f} ms)"
            )
        print(f"streaming decode: first audio after {first * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=11.0)
    args = parser.parse_args()
    asyncio.run(run(args.repeats, args.seconds))


if __name__ == "__main__":
    main()
