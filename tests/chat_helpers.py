"""Helpers for chat tests: the user's voice made by our speech endpoint, audio content parts,
and transcription of what came back."""

from __future__ import annotations

import base64
import io
import wave
from typing import Any

import httpx
import openai
from conftest import ServerProcess


def spoken(server: ServerProcess, text: str, fmt: str = "wav", **extra: Any) -> bytes:
    """Speech made by our own speech endpoint: the user's voice in the tests."""
    response = httpx.post(
        f"{server.base_url}/v1/audio/speech",
        json={"model": "tts-1", "voice": "alloy", "input": text, "response_format": fmt, **extra},
        timeout=60,
    )
    response.raise_for_status()
    return response.content


def audio_part(data: bytes, fmt: str = "wav") -> dict[str, Any]:
    encoded = base64.b64encode(data).decode()
    return {"type": "input_audio", "input_audio": {"data": encoded, "format": fmt}}


def transcribe(client: openai.OpenAI, audio: bytes, name: str = "reply.wav") -> str:
    return client.audio.transcriptions.create(model="step-audio-asr", file=(name, audio)).text


def pcm_to_wav(pcm: bytes, rate: int = 24000) -> bytes:
    """Raw pcm16 (as streamed chat audio comes) in a WAV file, for the transcription endpoint."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    return buffer.getvalue()
