"""Engine type ``step-audio-chat``: Step-Audio-Chat (130B) on SGLang, hearing input audio as
Step-Audio's codec tokens rather than as a transcript.

Options: ``base_url`` (SGLang, or its router), ``model_dir`` (the Step-Audio-Chat folder: its
``tokenizer.model`` builds the prompt), ``codec`` (a ``step-audio-codec`` engine with a
tokenizer, for input audio), ``context_tokens`` (32768), ``temperature`` (0.7) and ``top_p``
(0.9) as Step-Audio's own ``stepaudio.py`` samples, ``max_new_tokens`` (2048), and the SGLang
client's settings. Requests and chunks are OpenAI's chat-completions shape, like every chat
engine's; serving leaves ``input_audio`` parts as 16 kHz samples for this engine
(``hears_audio``).

Tool calls: the released code does not show how the model writes them; this engine reads
``<|CALL_START|>function\\n{"name": ..., "arguments": ...}<|CALL_END|>`` in its output (and
writes earlier calls back so), a convention of ours until the model's own is known.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import numpy as np

from stepaudio_api.engines.base import Engine, EngineNotConfigured
from stepaudio_api.engines.chat import ChatEngine
from stepaudio_api.engines.codec import Codec
from stepaudio_api.engines.sglang_generate import SGLangGenerate
from stepaudio_step_audio.prompts import BOS_ID, EOT_ID, PromptTokenizer, chat_prompt_text
from stepaudio_step_audio.sglang_options import (
    CLIENT_OPTIONS,
    folder_option,
    load_prompt_tokenizer,
    sglang_client,
)

OPTIONS = CLIENT_OPTIONS | {"model_dir", "codec", "context_tokens", "temperature", "top_p",
                            "max_new_tokens"}  # fmt: skip
CALL = re.compile(r"<\|CALL_START\|>function\n(.*?)<\|CALL_END\|>", re.DOTALL)
CALL_START = "<|CALL_START|>"


class StepAudioChat(ChatEngine):
    type = "step-audio-chat"
    hears_audio = True
    context_tokens = 32768

    def __init__(self, name: str, options: dict[str, Any], pool: Any) -> None:
        super().__init__(name, options, pool)
        self.context_tokens = int(options.get("context_tokens", self.context_tokens))
        self.codec: Codec | None = None
        self.client: SGLangGenerate | None = None
        self.tokenizer: PromptTokenizer | None = None

    def bind(self, engines: Mapping[str, Engine]) -> None:
        codec_name = self.options.get("codec")
        if codec_name is None:
            return
        codec = engines.get(str(codec_name))
        if not isinstance(codec, Codec):
            raise ValueError(f"option codec = '{codec_name}' names no step-audio-codec engine")
        self.codec = codec

    def load(self) -> None:
        unknown = set(self.options) - OPTIONS
        if unknown:
            raise ValueError(f"unknown option(s) {', '.join(sorted(unknown))}")
        folder = folder_option(self.name, self.options, "model_dir", "the Step-Audio-Chat folder")
        if self.codec is None:
            raise EngineNotConfigured(
                f"set codec in [engines.{self.name}] to a step-audio-codec engine with a "
                "tokenizer_dir (input audio reaches the model as its tokens)"
            )
        self.tokenizer = load_prompt_tokenizer(folder)
        self.client = sglang_client(self.name, self.options)

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.aclose()

    async def listen(self, samples: np.ndarray) -> str | None:
        assert self.codec is not None
        return (await self.codec.tokenize(np.asarray(samples, dtype=np.float32))).text()

    async def prompt_ids(self, request: dict[str, Any]) -> list[int]:
        """``[<s>]`` and the rendered conversation, input audio as its codec tokens."""
        assert self.tokenizer is not None
        messages = [
            {**m, "content": await self._content(m.get("content"))} for m in request["messages"]
        ]
        tools = request.get("tools") or []
        return [BOS_ID, *self.tokenizer.encode(chat_prompt_text(messages, tools))]

    async def _content(self, content: Any) -> str | None:
        if content is None or isinstance(content, str):
            return content
        pieces: list[str] = []
        for part in content:
            if part.get("type") == "text":
                pieces.append(part["text"])
            elif part.get("type") == "input_audio" and "samples" in part["input_audio"]:
                pieces.append(await self.listen(part["input_audio"]["samples"]) or "")
        return "".join(pieces)

    def sampling_params(self, request: dict[str, Any]) -> dict[str, Any]:
        limit = request.get("max_completion_tokens") or request.get("max_tokens")
        params: dict[str, Any] = {
            "temperature": float(request.get("temperature", self.options.get("temperature", 0.7))),
            "top_p": float(request.get("top_p", self.options.get("top_p", 0.9))),
            "max_new_tokens": int(limit or self.options.get("max_new_tokens", 2048)),
            "stop_token_ids": [EOT_ID],
        }
        stop = request.get("stop")
        if stop:
            params["stop"] = [stop] if isinstance(stop, str) else list(stop)
        if request.get("seed") is not None:
            params["sampling_seed"] = int(request["seed"])
        return params

    async def stream(self, request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        if self.client is None or self.tokenizer is None:
            raise EngineNotConfigured(f"engine {self.name} is not loaded")
        input_ids = await self.prompt_ids(request)
        chunk_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {
                "id": chunk_id, "object": "chat.completion.chunk", "created": created,
                "model": self.name,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }  # fmt: skip

        yield chunk({"role": "assistant", "content": ""})
        text = Detokenized(self.tokenizer)
        generation = None
        async for state, new in self.client.stream(input_ids, self.sampling_params(request)):
            generation = state
            piece = text.add([i for i in new if i != EOT_ID])
            if piece:
                yield chunk({"content": piece})
        calls = text.calls()
        for index, call in enumerate(calls):
            yield chunk({"tool_calls": [{"index": index, "id": f"call_{uuid.uuid4().hex[:24]}",
                                         "type": "function", "function": call}]})  # fmt: skip
        reason = (generation.finish_reason or {}).get("type") if generation else None
        finish = "tool_calls" if calls else ("length" if reason == "length" else "stop")
        yield chunk({}, finish)
        completion = len(generation.ids) if generation else 0
        yield {
            "id": chunk_id, "object": "chat.completion.chunk", "created": created,
            "model": self.name, "choices": [],
            "usage": {"prompt_tokens": len(input_ids), "completion_tokens": completion,
                      "total_tokens": len(input_ids) + completion},
        }  # fmt: skip


class Detokenized:
    """Text of ids arriving a few at a time, given out once it is final: not a half
    character, and nothing from a tool call's opening on (the calls are read at the end)."""

    def __init__(self, tokenizer: PromptTokenizer) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.sent = 0

    def add(self, ids: list[int]) -> str:
        self.ids.extend(ids)
        text = self.tokenizer.decode(self.ids)
        end = len(text.rstrip("\ufffd"))
        held = text.find(CALL_START)
        if held >= 0:
            end = min(end, held)
        else:  # a call's opening may be arriving: hold a prefix of it back
            for size in range(len(CALL_START) - 1, 0, -1):
                if text[:end].endswith(CALL_START[:size]):
                    end -= size
                    break
        piece = text[self.sent : end] if end > self.sent else ""
        self.sent = max(self.sent, end)
        return piece

    def calls(self) -> list[dict[str, str]]:
        found = []
        for body in CALL.findall(self.tokenizer.decode(self.ids)):
            try:
                call = json.loads(body)
                arguments = call.get("arguments", {})
                found.append({
                    "name": str(call["name"]),
                    "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
                })  # fmt: skip
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
        return found
