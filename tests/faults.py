"""Fault injection: the running server's own engines made to raise at one named stage, with a
message that must never reach a client (it is the kind of text a raw exception would leak).

Used on a server run in this process (stepaudio_api.testing.running_server), whose engine
objects the test can reach; the engines are the real ones, wrapped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from stepaudio_api.engines.base import Recognizer, Synthesizer
from stepaudio_api.engines.chat import ChatEngine
from stepaudio_api.services import Services

SECRET = "internal detail 7f3a9c"
"""In every injected exception; a client must never see it."""


class InjectedFault(RuntimeError):
    """What the engines raise: an exception the server did not expect."""


class Faults:
    def __init__(self, services: Services) -> None:
        self.stage: str | None = None
        for engine in services.engines.engines.values():
            if isinstance(engine, Recognizer):
                self._wrap_recognizer(engine)
            elif isinstance(engine, Synthesizer):
                self._wrap_synthesizer(engine)
            elif isinstance(engine, ChatEngine):
                self._wrap_chat(engine)

    def _raise(self, stage: str) -> None:
        if self.stage == stage:
            raise InjectedFault(f"{stage} failed: {SECRET}")

    def _wrap_recognizer(self, engine: Recognizer) -> None:
        original = engine.transcribe

        async def transcribe(audio: Any, options: Any) -> Any:
            self._raise("recognize")
            stream = await original(audio, options)

            async def segments() -> AsyncIterator[Any]:
                self._raise("recognize-segments")
                async for segment in stream.segments:
                    yield segment
                    self._raise("recognize-mid")

            return replace(stream, segments=segments())

        engine.transcribe = transcribe  # type: ignore[method-assign]

    def _wrap_synthesizer(self, engine: Synthesizer) -> None:
        original = engine.synthesize

        async def synthesize(text: str, options: Any) -> AsyncIterator[Any]:
            self._raise("synthesize")
            async for chunk in original(text, options):
                yield chunk
                self._raise("synthesize-mid")

        engine.synthesize = synthesize  # type: ignore[method-assign]

    def _wrap_chat(self, engine: ChatEngine) -> None:
        original = engine.stream

        async def stream(request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
            self._raise("chat")
            async for chunk in original(request):
                yield chunk
                if chunk.get("choices") and chunk["choices"][0].get("delta", {}).get("content"):
                    self._raise("chat-mid")

        engine.stream = stream  # type: ignore[method-assign]
