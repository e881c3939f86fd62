"""The GPU attention check's own road on tiny sizes and the CPU (the kernels through Triton's
interpreter), so that the one command kept for a lent H200 does not fail there on something a
CPU would have shown."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench/gpu/step1_attention.py"


def test_the_attention_gpu_check_runs_on_tiny_sizes() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--device", "cpu", "--tiny"],
        capture_output=True, text=True, timeout=300,
        env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines()]
    agreement = [(r[1], r[2], r[-1]) for r in rows if r[0] == "agreement"]
    assert agreement == [
        ("prefill+prefix", "bfloat16", "ok"),
        ("ragged-3", "bfloat16", "ok"),
        ("ragged-3", "float32", "ok"),
        ("decode", "bfloat16", "ok"),
    ]
    speed = [r for r in rows if r[0] == "speed"]
    assert [(r[1], r[2]) for r in speed] == [
        (case, impl)
        for case in ("prefill", "prefill+prefix", "decode")
        for impl in ("triton", "sdpa")
    ]
    assert all(float(r[3]) > 0 and float(r[4]) > 0 and float(r[5]) < 5e-2 for r in speed)
