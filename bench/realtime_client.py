"""What the realtime benchmarks share: the user's voice (made once by /v1/audio/speech), a
microphone that sends it in real time, 20 ms chunks then silence, and the SDK's connection."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import math
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from realtime_helpers import BYTES_PER_MS, silence, speech_span_ms  # noqa: E402

CHUNK_MS = 20
QUESTIONS = [
    "What time does the library open tomorrow?", "Can you recommend a good pasta recipe?",
    "How far is the moon from the earth?", "Please remind me to call my sister.",
    "What is the weather like in London today?", "Who wrote the novel Pride and Prejudice?",
    "How do I reset my home router?", "Tell me a fun fact about octopuses.",
    "What is the capital city of Australia?", "How many cups are in a gallon?",
    "Set a timer for ten minutes please.", "Which planet has the most moons?",
    "Translate good morning into Spanish for me.", "What should I cook for dinner tonight?",
    "How long does it take to boil an egg?", "Is it going to rain this weekend?",
    "Play some relaxing music in the kitchen.", "What is the tallest mountain in Africa?",
    "How do you spell the word necessary?", "When is the next train to Boston?",
]  # fmt: skip
REPLIES = ["That is a very good question.", "Here is what I found for you.",
           "Sure thing, I can help with that.", "Let me think about it for a moment.",
           "I have the answer right here."]  # fmt: skip


def append_event(pcm: bytes) -> str:
    return json.dumps(
        {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode()}
    )


SILENCE = append_event(silence(CHUNK_MS))


@dataclass
class Utterance:
    chunks: list[str]
    """Pre-encoded append events of CHUNK_MS each."""
    last_speech: int
    """Index of the last chunk holding speech (by energy)."""


def make_utterances(base: str) -> list[Utterance]:
    out, step = [], CHUNK_MS * BYTES_PER_MS
    for text in QUESTIONS:
        body = {"model": "tts-1", "voice": "alloy", "input": text, "response_format": "pcm"}
        response = httpx.post(f"{base}/v1/audio/speech", json=body, timeout=60)
        response.raise_for_status()
        pcm = silence(200) + response.content
        pcm += b"\0" * (-len(pcm) % step)
        chunks = [append_event(pcm[i : i + step]) for i in range(0, len(pcm), step)]
        out.append(Utterance(chunks, math.ceil(speech_span_ms(pcm)[1] / CHUNK_MS) - 1))
    return out


class Mic:
    """Sends a 20 ms chunk every 20 ms in real time: queued speech, else silence."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.queue: deque[tuple[str, bool]] = deque()
        self.sent_at: list[float] = []
        self.speech_end_at: float | None = None
        self.speech_ends: list[float] = []
        """When each utterance's last chunk holding speech was sent (its true end)."""
        self.late = 0.0
        """How far behind its own schedule the client got (s): its lag, not the server's."""

    async def run(self, chunks: int | None = None) -> None:
        start = time.monotonic()
        for k in range(chunks) if chunks is not None else itertools.count():
            due = start + k * CHUNK_MS / 1000
            if (wait := due - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            self.late = max(self.late, time.monotonic() - due)
            message, last = self.queue.popleft() if self.queue else (SILENCE, False)
            await self.connection.send_raw(message)
            self.sent_at.append(time.monotonic())
            if last:
                self.speech_end_at = self.sent_at[-1]
                self.speech_ends.append(self.speech_end_at)

    def say(self, utterance: Utterance, then_silence_ms: int = 0) -> None:
        self.speech_end_at = None
        self.queue.extend((c, i == utterance.last_speech) for i, c in enumerate(utterance.chunks))
        self.queue.extend((SILENCE, False) for _ in range(then_silence_ms // CHUNK_MS))


def connect(base: str) -> Any:
    client = openai.AsyncOpenAI(base_url=f"{base}/v1", api_key="bench", max_retries=0)
    return client.realtime.connect(model="gpt-realtime", max_retries=0)


def ms(values: list[float], p: float = 0.5) -> float:
    """The p-quantile (nearest rank) in ms; p=0.5 is the lower median."""
    ordered = sorted(values)
    return 1000 * ordered[max(0, math.ceil(p * len(ordered)) - 1)]
