"""Start a `stepaudio-api serve` process for a benchmark, on a free port and a fresh data folder."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time

import httpx


def start_server(env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    environment = {
        **os.environ,
        "STEPAUDIO_DATA_DIR": tempfile.mkdtemp(),
        "STEPAUDIO_LOG_LEVEL": "warning",
        **(env or {}),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "stepaudio_api", "serve", "--port", str(port)], env=environment
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            # /ready needs a key when auth is required; uvicorn answers only once loaded
            if httpx.get(f"{base}/ready", timeout=1).status_code in (200, 401):
                return process, base
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            raise SystemExit("server exited before it was ready")
        time.sleep(0.2)
    process.kill()
    raise SystemExit("server did not become ready")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
