"""Engine type ``openai-compatible``: a chat model at an OpenAI-compatible ``/v1`` upstream."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

from stepaudio_api.engines.base import EngineNotConfigured
from stepaudio_api.engines.chat import ChatEngine
from stepaudio_api.engines.openai_upstream import OpenAIUpstream, UpstreamSettings
from stepaudio_api.engines.worker_pool import WorkerPool
from stepaudio_api.settings import CHAT_UPSTREAM_ENGINE

_UPSTREAM_OPTIONS = {f.name for f in dataclasses.fields(UpstreamSettings)} - {"name"}


def _how_to_configure(engine: str) -> str:
    if engine == CHAT_UPSTREAM_ENGINE:
        return (
            "set STEPAUDIO_CHAT_BASE_URL (an OpenAI-compatible /v1 URL, such as SGLang's "
            "http://gpu-1:30000/v1), STEPAUDIO_CHAT_MODEL (the model name it serves) and, if it "
            f"needs one, STEPAUDIO_CHAT_API_KEY, or base_url and model in [engines.{engine}]"
        )
    return f"set base_url and model in [engines.{engine}] of the configuration"


class UpstreamChatEngine(ChatEngine):
    """SGLang, vLLM, llama.cpp server, OpenAI: anything that streams ``/chat/completions``.

    Options: ``base_url``, ``model``, ``api_key``, ``context_tokens`` and the timeouts,
    retries and circuit-breaker settings of :class:`UpstreamSettings`.
    """

    type = "openai-compatible"

    def __init__(self, name: str, options: dict[str, Any], pool: WorkerPool) -> None:
        super().__init__(name, options, pool)
        self.context_tokens = int(options.get("context_tokens", self.context_tokens))
        self.upstream: OpenAIUpstream | None = None

    def load(self) -> None:
        unknown = set(self.options) - _UPSTREAM_OPTIONS - {"context_tokens"}
        if unknown:
            raise ValueError(
                f"unknown option(s) {', '.join(sorted(unknown))}; accepted: "
                + ", ".join(sorted(_UPSTREAM_OPTIONS | {"context_tokens"}))
            )
        missing = [key for key in ("base_url", "model") if not self.options.get(key)]
        if missing:
            raise EngineNotConfigured(
                f"no chat upstream is configured ({' and '.join(missing)} missing): "
                + _how_to_configure(self.name)
            )
        options = {k: v for k, v in self.options.items() if k in _UPSTREAM_OPTIONS}
        options["api_key"] = options.get("api_key") or None
        self.upstream = OpenAIUpstream(
            UpstreamSettings(**options, name=f"chat upstream '{self.name}'")
        )

    def stream(self, request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        if self.upstream is None:
            raise EngineNotConfigured(_how_to_configure(self.name))
        return self.upstream.stream(request)

    async def aclose(self) -> None:
        if self.upstream is not None:
            await self.upstream.aclose()
