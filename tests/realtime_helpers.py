"""Helpers for realtime tests: the user's voice (made by our speech endpoint) as the API
carries it, sent in chunks, and server events gathered until one of a kind."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import numpy as np
from conftest import ServerProcess
from websockets.sync.client import ClientConnection

RATE = 24000
BYTES_PER_MS = RATE * 2 // 1000


def speech_pcm(server: ServerProcess, text: str, lead_ms: int = 500, tail_ms: int = 1200) -> bytes:
    """pcm16 24 kHz of ``text`` from /v1/audio/speech, with silence before and after."""
    response = httpx.post(
        f"{server.base_url}/v1/audio/speech",
        json={"model": "tts-1", "voice": "alloy", "input": text, "response_format": "pcm"},
        timeout=60,
    )
    response.raise_for_status()
    return silence(lead_ms) + response.content + silence(tail_ms)


def silence(ms: int) -> bytes:
    return b"\0" * (ms * BYTES_PER_MS)


def speech_span_ms(pcm: bytes) -> tuple[float, float]:
    """Where the speech in ``pcm`` begins and ends (20 ms frames above 2% of full scale)."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768
    frame = RATE // 50
    energy = [np.sqrt(np.mean(samples[i : i + frame] ** 2)) for i in range(0, len(samples), frame)]
    loud = [i for i, e in enumerate(energy) if e > 0.02]
    return loud[0] * 20.0, (loud[-1] + 1) * 20.0


def send_audio(connection: Any, pcm: bytes, chunk_ms: int = 50, paced: bool = False) -> None:
    """Append ``pcm`` in ``chunk_ms`` pieces; ``paced`` sends them in real time."""
    step = chunk_ms * BYTES_PER_MS
    started = time.monotonic()
    for index, offset in enumerate(range(0, len(pcm), step)):
        if paced:
            wait = started + index * chunk_ms / 1000 - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        connection.input_audio_buffer.append(
            audio=base64.b64encode(pcm[offset : offset + step]).decode()
        )


def events_until(connection: Any, kind: str, limit: float = 60.0) -> list[Any]:
    """Server events up to and including the first of type ``kind``."""
    events, deadline = [], time.monotonic() + limit
    for event in connection:
        events.append(event)
        if event.type == kind:
            return events
        if time.monotonic() > deadline:
            break
    raise AssertionError(f"no {kind} in {[e.type for e in events]}")


def audio_of(events: list[Any], kind: str = "response.output_audio.delta") -> bytes:
    return b"".join(base64.b64decode(e.delta) for e in events if e.type == kind)


def text_of(events: list[Any], kind: str) -> str:
    return "".join(e.delta for e in events if e.type == kind)


# -- raw protocol: events as JSON over a websockets connection ------------------------------


def send(ws: ClientConnection, event: dict[str, Any]) -> None:
    ws.send(json.dumps(event))


def recv(ws: ClientConnection, timeout: float = 15.0) -> dict[str, Any]:
    message = ws.recv(timeout=timeout)
    event = json.loads(message)
    assert isinstance(event, dict), message
    return event


def until(ws: ClientConnection, kind: str, limit: float = 30.0) -> list[dict[str, Any]]:
    """Server events up to and including the first of type ``kind``."""
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + limit
    while (left := deadline - time.monotonic()) > 0:
        try:
            event = recv(ws, timeout=left)
        except TimeoutError:
            break
        events.append(event)
        if event["type"] == kind:
            return events
    raise AssertionError(f"no {kind} in {[e['type'] for e in events]}")


def user_text(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def deltas(events: list[dict[str, Any]], kind: str) -> str:
    return "".join(e["delta"] for e in events if e["type"] == kind)


def audio_bytes(events: list[dict[str, Any]], kind: str = "response.output_audio.delta") -> bytes:
    """The audio of raw events, each delta decoded on its own (base64 pieces do not join)."""
    return b"".join(base64.b64decode(e["delta"]) for e in events if e["type"] == kind)


def send_pcm(ws: ClientConnection, pcm: bytes, chunk_ms: int = 100) -> None:
    """Append pcm16 audio in ``chunk_ms`` pieces, as fast as the socket takes them."""
    step = chunk_ms * BYTES_PER_MS
    for offset in range(0, len(pcm), step):
        send(ws, {"type": "input_audio_buffer.append",
                  "audio": base64.b64encode(pcm[offset : offset + step]).decode()})  # fmt: skip


def sessions_closed(server: ServerProcess, timeout: float = 5.0) -> None:
    """Wait until the server has ended every realtime session (a client's close reaches it a
    moment after the client has closed), so the next one is not refused for a limit."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if httpx.get(f"{server.base_url}/ready", timeout=5).json()["realtime"]["sessions"] == 0:
            return
        time.sleep(0.02)
    raise AssertionError("the server still holds realtime sessions")
