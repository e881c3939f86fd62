"""GPU check of Step-Audio's codec, one command, a few minutes on one H200.

1. Agreement: the tiny checkpoints tokenized and decoded on the GPU equal the CPU's (fp32).
2. Speed at the released sizes with random weights (the folders written by the released-size
   writers, so the loaders run too): tokenize and detokenize real-time factors, batch 1 and 16,
   float32 and bfloat16.

Run: python bench/gpu/codec.py [--device cuda] [--work /tmp/codec-bench]
     python bench/gpu/codec.py --device cpu --tiny     (the same road on tiny sizes, anywhere)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]

from stepaudio_api.audio.decode import decode_audio  # noqa: E402
from stepaudio_api.engines.codec import AudioTokens  # noqa: E402


def clip(seconds: float) -> np.ndarray:
    audio = decode_audio((ROOT / "tests/data/en_jfk.flac").read_bytes(), 16000).samples
    return np.resize(audio, int(seconds * 16000)).astype(np.float32)


def timed(device: str, fn: Callable[[], object], repeats: int = 3) -> float:
    fn()  # warm-up: kernels, caches
    best = float("inf")
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        started = time.perf_counter()
        fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - started)
    return best


def agreement(work: Path, device: str) -> None:
    from stepaudio_codec.dual_tokenizer import DualTokenizer
    from stepaudio_codec.folders import DecoderFolders, TokenizerFolder
    from stepaudio_codec.tiny import write_tiny_checkpoints
    from stepaudio_codec.token_decoder import CosyVoiceDecoder

    write_tiny_checkpoints(work / "tiny", only=("tokenizer", "tts"))
    tokenizer_folder = TokenizerFolder.check(work / "tiny/Step-Audio-Tokenizer")
    decoder_folder = DecoderFolders.check(work / "tiny/Step-Audio-TTS-3B").speak
    audio = clip(11.0)
    cpu = DualTokenizer.load(tokenizer_folder, "cpu").tokenize(audio)
    gpu = DualTokenizer.load(tokenizer_folder, device).tokenize(audio)
    same = [
        float(np.mean(a == b)) if len(a) == len(b) else 0.0
        for a, b in ((cpu.linguistic, gpu.linguistic), (cpu.semantic, gpu.semantic))
    ]
    print(f"agreement tokenize {device} vs cpu: vq02 {same[0]:.3f}, vq06 {same[1]:.3f} equal")
    ids = cpu.ids[:150]
    cpu_audio = CosyVoiceDecoder.load(decoder_folder, "cpu").decode(ids)
    gpu_audio = CosyVoiceDecoder.load(decoder_folder, device).decode(ids)
    print(
        f"agreement detokenize {device} vs cpu: {len(gpu_audio)} vs {len(cpu_audio)} samples, "
        f"max abs diff {np.abs(gpu_audio - cpu_audio).max():.2e}"
    )


def tokenize_all(tokenizer: Any, clips: list[np.ndarray]) -> None:
    tokenizer.semantic.tokenize_batch(clips)  # vq06 batched, with padding masks
    for one in clips:  # the Paraformer stream runs clip by clip
        tokenizer.linguistic.tokenize(one)


def decode_all(decoder: Any, ids: np.ndarray, batch: int) -> None:
    for _ in range(batch):  # the released flow decodes one utterance at a time
        decoder.decode(ids)


def speed(work: Path, device: str, tiny: bool) -> None:
    from stepaudio_codec.dual_tokenizer import DualTokenizer
    from stepaudio_codec.folders import TokenizerFolder
    from stepaudio_codec.tiny import write_cosyvoice_folder, write_tokenizer_folder
    from stepaudio_codec.token_decoder import CosyVoiceDecoder

    sizes = "tiny" if tiny else "released"
    started = time.perf_counter()
    tokenizer_dir = write_tokenizer_folder(work / sizes / "Step-Audio-Tokenizer", real=not tiny)
    decoder_dir = write_cosyvoice_folder(work / sizes / "CosyVoice-300M-25Hz", real=not tiny)
    print(f"{sizes} sizes written in {time.perf_counter() - started:.0f} s")
    seconds = 11.0
    audio = clip(seconds)
    groups = 60  # 7.2 s of speech out
    rng = np.random.default_rng(0)
    ids = AudioTokens(rng.integers(0, 1024, 2 * groups), rng.integers(0, 4096, 3 * groups)).ids
    out_seconds = groups * 0.12
    print(f"{'dtype':9s} {'batch':>5s} {'tokenize RTF':>13s} {'detokenize RTF':>15s}")
    for dtype in (torch.float32, torch.bfloat16):
        tokenizer = DualTokenizer.load(TokenizerFolder.check(tokenizer_dir), device, dtype)
        decoder = CosyVoiceDecoder.load(decoder_dir, device, dtype)
        for batch in (1, 16):
            clips = [audio] * batch
            t = timed(device, partial(tokenize_all, tokenizer, clips), repeats=2)
            d = timed(device, partial(decode_all, decoder, ids, batch), repeats=2)
            name = str(dtype).removeprefix("torch.")
            t, d = t / (seconds * batch), d / (out_seconds * batch)
            print(f"{name:9s} {batch:5d} {t:13.4f} {d:15.4f}")
        del tokenizer, decoder
        if device.startswith("cuda"):
            torch.cuda.empty_cache()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--work", type=Path, default=None, help="where checkpoints are written")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes (a smoke run)")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("no CUDA device: run with --device cpu --tiny for the smoke run")
    if args.device.startswith("cuda"):
        print(f"device: {torch.cuda.get_device_name()} torch {torch.__version__}")
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        agreement(Path(tmp), args.device)
        speed(Path(tmp), args.device, args.tiny)


if __name__ == "__main__":
    main()
