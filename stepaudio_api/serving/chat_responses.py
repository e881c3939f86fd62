"""The shapes a chat reply goes out in: ``chat.completion.chunk`` events and ``chat.completion``."""

from __future__ import annotations

import math
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import msgspec

from stepaudio_api.serving.chat_turn import TurnUsage
from stepaudio_api.serving.speech import OUTPUT_TOKENS_PER_SECOND


def sse_json(payload: dict[str, Any]) -> bytes:
    return b"data: " + msgspec.json.encode(payload) + b"\n\n"


SSE_DONE = b"data: [DONE]\n\n"


@dataclass(slots=True)
class ReplyShape:
    model: str
    """The model name the client asked for (an alias stays an alias)."""
    id: str = field(default_factory=lambda: "chatcmpl-" + secrets.token_hex(12))
    created: int = field(default_factory=lambda: int(time.time()))
    system_fingerprint: str | None = None

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        return sse_json({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created,
            "model": self.model, "system_fingerprint": self.system_fingerprint,
            "choices": [{"index": 0, "delta": delta, "logprobs": None,
                         "finish_reason": finish_reason}],
        })  # fmt: skip

    def usage_chunk(self, usage: dict[str, Any]) -> bytes:
        return sse_json({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created,
            "model": self.model, "system_fingerprint": self.system_fingerprint,
            "choices": [], "usage": usage,
        })  # fmt: skip

    def completion(
        self, message: dict[str, Any], finish_reason: str, usage: dict[str, Any]
    ) -> bytes:
        return msgspec.json.encode({
            "id": self.id, "object": "chat.completion", "created": self.created,
            "model": self.model, "system_fingerprint": self.system_fingerprint,
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": finish_reason}],
            "usage": usage, "service_tier": "default",
        })  # fmt: skip


def usage_of(turn: TurnUsage, audio_seconds_in: float, audio_seconds_out: float) -> dict[str, Any]:
    """OpenAI's usage: the upstream's text tokens, plus the spoken reply's audio tokens (at
    Step-Audio's 25 Hz token rate) in completion_tokens; our audio seconds beside them."""
    audio_tokens = math.ceil(audio_seconds_out * OUTPUT_TOKENS_PER_SECOND)
    completion = turn.completion_tokens + audio_tokens
    return {
        "prompt_tokens": turn.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": turn.prompt_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": turn.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0, "audio_tokens": audio_tokens,
            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0,
            "text_tokens": turn.completion_tokens,
        },
        "input_audio_seconds": round(audio_seconds_in, 3),
        "output_audio_seconds": round(audio_seconds_out, 3),
    }  # fmt: skip


def tool_call_deltas(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"index": i, "id": c["id"], "type": "function", "function": c["function"]}
        for i, c in enumerate(calls)
    ]
