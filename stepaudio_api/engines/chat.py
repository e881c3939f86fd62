"""What a chat model is to us: OpenAI chat-completions bodies in, chunk dicts out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import Any

import numpy as np

from stepaudio_api.engines.base import Engine


class ChatModel(ABC):
    """The brain behind /v1/chat/completions: a model we stream an answer from.

    Requests and chunks stay in OpenAI's chat-completions shape, because every brain we reach
    (SGLang, vLLM, llama.cpp server) already speaks it; serving adds the audio around it.
    """

    @abstractmethod
    def stream(self, request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Answer ``request`` (messages, tools, tool_choice, temperature, max_tokens, ...).

        Yields ``chat.completion.chunk`` dicts as the model sends them, the last one carrying
        ``usage`` with ``choices: []``. Closing the iterator stops the model's work at once.
        """

    async def complete(self, request: dict[str, Any]) -> dict[str, Any]:
        """The whole answer as one ``chat.completion``, gathered from :meth:`stream`."""
        chunks = self.stream(request)
        try:
            return await collect_completion(chunks)
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the model is not used afterwards."""


class ChatEngine(Engine, ChatModel):
    """A chat model as a configured engine instance, so models in configuration can name it."""

    context_tokens: int = 8192
    """The upstream's context window: longer conversations are trimmed to fit."""
    hears_audio: bool = False
    """True for a model that listens itself (Step-Audio-Chat reads codec tokens): serving
    then hands it each ``input_audio`` part as ``{"samples": 16 kHz float32, "sample_rate":
    16000, "transcript": None}`` instead of a transcript."""

    async def listen(self, samples: np.ndarray) -> str | None:
        """What the model reads for 16 kHz audio when it ``hears_audio`` (Step-Audio-Chat: its
        codec tokens as text); None for a model that reads transcripts."""
        return None

    def describe(self) -> dict[str, Any]:
        return {
            "capability": "chat",
            "context_tokens": self.context_tokens,
            "input_modalities": ["text", "audio"],
            "output_modalities": ["text", "audio"],
            "tools": True,
            "streaming": True,
        }


async def collect_completion(chunks: AsyncIterator[dict[str, Any]]) -> dict[str, Any]:
    """Join streamed chunks into the ``chat.completion`` a non-streaming request returns."""
    completion: dict[str, Any] = {"object": "chat.completion", "choices": [], "usage": None}
    choices: dict[int, dict[str, Any]] = {}
    async for chunk in chunks:
        for key in ("id", "created", "model", "system_fingerprint"):
            if key in chunk and key not in completion:
                completion[key] = chunk[key]
        if chunk.get("usage"):
            completion["usage"] = chunk["usage"]
        for delta_choice in chunk.get("choices") or []:
            index = delta_choice.get("index", 0)
            choice = choices.setdefault(
                index,
                {
                    "index": index,
                    "message": {"role": "assistant", "content": None},
                    "logprobs": None,
                    "finish_reason": None,
                },
            )
            _merge_delta(choice["message"], delta_choice.get("delta") or {})
            if delta_choice.get("finish_reason"):
                choice["finish_reason"] = delta_choice["finish_reason"]
    completion["choices"] = [choices[i] for i in sorted(choices)]
    return completion


def _merge_delta(message: dict[str, Any], delta: dict[str, Any]) -> None:
    if delta.get("role"):
        message["role"] = delta["role"]
    if delta.get("content") is not None:
        message["content"] = (message["content"] or "") + delta["content"]
    for call_delta in delta.get("tool_calls") or []:
        merge_tool_call_delta(message.setdefault("tool_calls", []), call_delta)


def merge_tool_call_delta(calls: list[dict[str, Any]], call_delta: dict[str, Any]) -> None:
    """Add one streamed ``tool_calls`` delta to the calls gathered so far (by its index)."""
    index = call_delta.get("index", len(calls))
    while len(calls) <= index:
        calls.append({"id": "", "type": "function", "function": {"name": "", "arguments": ""}})
    call = calls[index]
    if call_delta.get("id"):
        call["id"] = call_delta["id"]
    if call_delta.get("type"):
        call["type"] = call_delta["type"]
    function = call_delta.get("function") or {}
    call["function"]["name"] += function.get("name") or ""
    call["function"]["arguments"] += function.get("arguments") or ""
