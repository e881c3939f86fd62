"""The GPU check's own road on tiny sizes and the CPU, so that the one command kept for a lent
GPU does not fail there on something a CPU would have shown."""

from __future__ import annotations

import subprocess
import sys

from codec_checkpoints import REPOSITORY


def test_the_gpu_check_runs_on_tiny_sizes() -> None:
    done = subprocess.run(
        [sys.executable, str(REPOSITORY / "bench/gpu/codec.py"), "--device", "cpu", "--tiny"],
        capture_output=True, text=True, timeout=600,
        env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "vq02 1.000, vq06 1.000 equal" in done.stdout
    rows = [
        line.split()
        for line in done.stdout.splitlines()
        if line.startswith(("float32", "bfloat16"))
    ]
    assert [(r[0], r[1]) for r in rows] == [
        ("float32", "1"),
        ("float32", "16"),
        ("bfloat16", "1"),
        ("bfloat16", "16"),
    ]
    assert all(0 < float(r[2]) < 5 and 0 < float(r[3]) < 5 for r in rows)
