"""What Piper's onnxruntime session holds and how fast it speaks, with its memory arena (the
onnxruntime default, the raw engine) and without it (ours): each in a process of its own,
the voice loaded, then sentences of growing length synthesized; printed are the resident
memory the session keeps once the allocator has given back what it can, and the real-time
factor, ours beside the raw engine's as a ratio.

    python bench/piper_memory.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import statistics
import subprocess
import sys
import time

SENTENCE = "The quick brown fox jumps over the lazy dog and keeps on running far away. "


def measure(arena: bool, repeats: int) -> dict[str, float]:
    """In this process: (kept MB after the longest synthesis, seconds of audio, seconds)."""
    import psutil

    from stepaudio_api.engines import piper_synthesizer
    from stepaudio_api.settings import load_settings

    model, config = piper_synthesizer._voice_files(load_settings().engines["piper-joe"])
    process = psutil.Process()
    voice = piper_synthesizer.load_piper_voice(model, json.loads(config.read_text()), False)
    if arena:  # the raw engine: our session options, with onnxruntime's arena left on
        import onnxruntime

        session_options = onnxruntime.SessionOptions()
        session_options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        voice.session = onnxruntime.InferenceSession(
            str(model), sess_options=session_options, providers=["CPUExecutionProvider"]
        )
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc_trim(0)
    loaded = process.memory_info().rss
    from piper import SynthesisConfig

    settings = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    audio_seconds, spent = 0.0, 0.0
    for _ in range(repeats):
        for sentences in range(1, 6):
            started = time.perf_counter()
            for chunk in voice.synthesize(SENTENCE * sentences, settings):
                audio_seconds += len(chunk.audio_float_array) / chunk.sample_rate
            spent += time.perf_counter() - started
    libc.malloc_trim(0)
    kept = (process.memory_info().rss - loaded) / 2**20
    return {"kept_mb": kept, "rtf": spent / audio_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", choices=["arena", "plain"])
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child == "arena", args.repeats)))
        return
    runs: dict[str, list[dict[str, float]]] = {"arena": [], "plain": []}
    for _ in range(3):  # alternated, each in a fresh process
        for kind in runs:
            out = subprocess.run(
                [sys.executable, __file__, "--child", kind, "--repeats", str(args.repeats)],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            runs[kind].append(json.loads(out.strip().splitlines()[-1]))
    raw = {k: statistics.median(r[k] for r in runs["arena"]) for k in ("kept_mb", "rtf")}
    ours = {k: statistics.median(r[k] for r in runs["plain"]) for k in ("kept_mb", "rtf")}
    print(f"kept after synthesis: ours {ours['kept_mb']:.0f} MB, raw engine (arena) "
          f"{raw['kept_mb']:.0f} MB")  # fmt: skip
    print(f"real-time factor: ours {ours['rtf']:.4f}, raw engine {raw['rtf']:.4f}, "
          f"ratio {ours['rtf'] / raw['rtf']:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
