"""One realtime response: ask the chat model, speak or write its answer as server events, turn
its calls to the client's functions into function_call items; cancellable at any point."""

from __future__ import annotations

import asyncio
import base64
import logging
import math
import secrets
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from stepaudio_api.engines.chat import ChatEngine
from stepaudio_api.errors import APIError
from stepaudio_api.extensions.tools import ToolRegistry
from stepaudio_api.serving.chat_speech import ReplySpeaker
from stepaudio_api.serving.chat_turn import (
    ChatTurn,
    ClientToolCalls,
    Finished,
    TextDelta,
    ToolPolicy,
    ToolsRunning,
    TurnUsage,
)
from stepaudio_api.serving.realtime.conversation import Conversation, Item, Part
from stepaudio_api.serving.speech import OUTPUT_TOKENS_PER_SECOND

SpeakerFactory = Callable[[], Awaitable[ReplySpeaker]]
"""Makes the voice of a spoken response once it has begun (a voice that cannot be spoken
then fails the response, with its events)."""
logger = logging.getLogger(__name__)
Emit = Callable[..., None]
"""emit(GA event type, **fields): queue one server event (Item values are written as the
client's generation has them, at once)."""


@dataclass(slots=True)
class ResponsePlan:
    """What one response.create (or a turn's end) asks for, the session's settings filled in."""

    messages: list[dict[str, Any]]
    audio: bool
    voice: str
    output_format: dict[str, Any]
    beta_format: str
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: Any = "auto"
    temperature: float | None = None
    max_output_tokens: int | str = "inf"
    in_conversation: bool = True
    metadata: dict[str, str] | None = None
    acknowledgement: str = "One moment, please."
    instructions: str = ""


@dataclass(slots=True)
class ResponseResult:
    status: str = "in_progress"
    reason: str | None = None
    """Why it was cancelled (turn_detected, client_cancelled)."""
    error: dict[str, Any] | None = None
    """Why it failed, in OpenAI's shape: type, code, message."""
    usage: TurnUsage = field(default_factory=TurnUsage)
    audio_seconds: float = 0.0


class Responder:
    def __init__(self, model: ChatEngine, tools: ToolRegistry, policy: ToolPolicy,
                 conversation: Conversation, emit: Emit) -> None:  # fmt: skip
        self.model, self.tools, self.policy = model, tools, policy
        self.conversation, self.emit = conversation, emit
        self.id = "resp_" + secrets.token_hex(10)
        self.output: list[Item] = []
        self.result = ResponseResult()
        self.cancel_reason = "client_cancelled"
        self._in_conversation = True  # set from the plan when the response runs
        self._previous: dict[str, str | None] = {}
        """Each output item's predecessor in the conversation (its .added and .done say it)."""

    def wire(self, plan: ResponsePlan, beta: bool) -> dict[str, Any]:
        status_details = None
        if self.result.status == "cancelled":
            status_details = {"type": "cancelled", "reason": self.result.reason}
        elif self.result.status == "failed":
            status_details = {"type": "failed", "error": self.result.error}
        response: dict[str, Any] = {
            "id": self.id, "object": "realtime.response", "status": self.result.status,
            "status_details": status_details, "output": [i.wire(beta) for i in self.output],
            "conversation_id": "conv_" + self.id[5:] if plan.in_conversation else None,
            "max_output_tokens": plan.max_output_tokens, "metadata": plan.metadata,
            "usage": self._usage() if self.result.status != "in_progress" else None,
        }  # fmt: skip
        if beta:
            return response | {"modalities": ["text", "audio"] if plan.audio else ["text"],
                               "voice": plan.voice, "output_audio_format": plan.beta_format,
                               "temperature": plan.temperature}  # fmt: skip
        return response | {"output_modalities": ["audio" if plan.audio else "text"],
                           "audio": {"output": {"format": plan.output_format,
                                                "voice": plan.voice}}}  # fmt: skip

    def _usage(self) -> dict[str, Any]:
        usage = self.result.usage
        audio_tokens = math.ceil(self.result.audio_seconds * OUTPUT_TOKENS_PER_SECOND)
        output = usage.completion_tokens + audio_tokens
        return {"total_tokens": usage.prompt_tokens + output, "input_tokens": usage.prompt_tokens,
                "output_tokens": output,
                "input_token_details": {"text_tokens": usage.prompt_tokens, "audio_tokens": 0,
                                        "cached_tokens": usage.cached_tokens},
                "output_token_details": {"text_tokens": usage.completion_tokens,
                                         "audio_tokens": audio_tokens}}  # fmt: skip

    async def run(self, plan: ResponsePlan, speaker: SpeakerFactory | None, beta: bool) -> None:
        """Emit the whole response; on cancellation its items end incomplete and
        response.done says cancelled, with ``cancel_reason``; on any failure (the voice, the
        model, the engines) response.done says failed, with an error in OpenAI's shape."""
        self._in_conversation = plan.in_conversation
        self.emit("response.created", response=self.wire(plan, beta))
        message: Item | None = None
        voice: ReplySpeaker | None = None
        try:
            voice = await speaker() if speaker is not None else None
            turn = ChatTurn(self.model, self.tools, self.policy).run(self._request(plan))
            async with aclosing(turn) as events:  # type: ignore[type-var]
                async for event in events:
                    if isinstance(event, TextDelta | ToolsRunning):
                        if message is None:
                            message = self._open_message(plan, voice, beta)
                        if isinstance(event, TextDelta):
                            await self._say(message, event.text, voice, own=False)
                        elif voice is not None:
                            await self._say(message, plan.acknowledgement + " ", voice, own=True)
                    elif isinstance(event, ClientToolCalls):
                        if message is not None:
                            await self._close_message(message, voice, "completed")
                            message = None
                        for call in event.calls:
                            self._function_call(call, beta)
                    elif isinstance(event, Finished):
                        self.result.usage = event.usage
                        if message is not None:
                            await self._close_message(message, voice, "completed")
                            message = None
            self.result.status = "completed"
        except asyncio.CancelledError:
            self.result.status, self.result.reason = "cancelled", self.cancel_reason
            if message is not None:
                self._close_message_now(message, voice, "incomplete")
            raise
        except Exception as exc:
            # said in response.done, as OpenAI does (not also as an error event, which
            # clients such as pipecat's take for the end of the connection)
            self.result.status, self.result.error = "failed", failure(exc)
            if message is not None:
                self._close_message_now(message, voice, "incomplete")
        finally:
            if voice is not None:
                self.result.audio_seconds = voice.seconds
            self.emit("response.done", response=self.wire(plan, beta))

    @staticmethod
    def _body(plan: ResponsePlan) -> dict[str, Any]:
        body: dict[str, Any] = {"messages": plan.messages, "tool_choice": plan.tool_choice}
        if plan.tools:
            body["tools"] = plan.tools
        if plan.temperature is not None:
            body["temperature"] = plan.temperature
        if isinstance(plan.max_output_tokens, int):
            body["max_tokens"] = plan.max_output_tokens
        return body

    def _request(self, plan: ResponsePlan) -> dict[str, Any]:
        body = self._body(plan)
        if not body.get("tools") and not self.policy.server_tools:
            body.pop("tool_choice")
        return body

    def _where(self, item: Item) -> dict[str, Any]:
        return {"response_id": self.id, "item_id": item.id,
                "output_index": self.output.index(item)}  # fmt: skip

    def _open_message(self, plan: ResponsePlan, speaker: ReplySpeaker | None,
                      beta: bool) -> Item:  # fmt: skip
        part = Part("output_audio", transcript="") if speaker else Part("output_text", text="")
        item = Item("message", role="assistant", status="in_progress", content=[part])
        self._add(item, beta)
        self.emit("response.content_part.added", **self._where(item), content_index=0,
                  part={"type": "audio", "transcript": ""} if speaker else
                  {"type": "text", "text": ""})  # fmt: skip
        return item

    def _add(self, item: Item, beta: bool) -> None:
        self.output.append(item)
        previous = self.conversation.add(item) if self._in_conversation else None
        self._previous[item.id] = previous
        # items are sent as they are now: the session's emitter writes them in the client's
        # generation at once
        self.emit("response.output_item.added", response_id=self.id,
                  output_index=len(self.output) - 1, item=item)  # fmt: skip
        if self._in_conversation:
            self.emit("conversation.item.added", previous_item_id=previous, item=item)

    async def _say(self, item: Item, text: str, speaker: ReplySpeaker | None, own: bool) -> None:
        part = item.content[0]
        where = self._where(item) | {"content_index": 0}
        if speaker is None:
            part.text = (part.text or "") + text
            self.emit("response.output_text.delta", **where, delta=text)
            return
        part.transcript = (part.transcript or "") + text
        self.emit("response.output_audio_transcript.delta", **where, delta=text)
        chunks = speaker.say(text.strip()) if own else speaker.text(text)
        async for data in chunks:
            self.emit("response.output_audio.delta", **where,
                      delta=base64.b64encode(data).decode())  # fmt: skip
            part.marks = list(speaker.marks)

    async def _close_message(self, item: Item, speaker: ReplySpeaker | None, status: str) -> None:
        if speaker is not None:
            where = self._where(item) | {"content_index": 0}
            async for data in speaker.finish():
                self.emit("response.output_audio.delta", **where,
                          delta=base64.b64encode(data).decode())  # fmt: skip
            item.content[0].marks = list(speaker.marks)
        self._close_message_now(item, speaker, status)

    def _close_message_now(self, item: Item, speaker: ReplySpeaker | None, status: str) -> None:
        part, where = item.content[0], self._where(item) | {"content_index": 0}
        if speaker is not None:
            self.emit("response.output_audio.done", **where)
            self.emit("response.output_audio_transcript.done", **where,
                      transcript=part.transcript or "")  # fmt: skip
            done_part = {"type": "audio", "transcript": part.transcript or ""}
        else:
            self.emit("response.output_text.done", **where, text=part.text or "")
            done_part = {"type": "text", "text": part.text or ""}
        self.emit("response.content_part.done", **where, part=done_part)
        self._finish_item(item, status)

    def _finish_item(self, item: Item, status: str) -> None:
        item.status = status
        self.emit("response.output_item.done", response_id=self.id,
                  output_index=self.output.index(item), item=item)  # fmt: skip
        if self._in_conversation:
            self.emit("conversation.item.done", previous_item_id=self._previous.get(item.id),
                      item=item)  # fmt: skip

    def _function_call(self, call: dict[str, Any], beta: bool) -> None:
        function = call["function"]
        call_id = call["id"] or "call_" + secrets.token_hex(8)
        item = Item("function_call", status="in_progress", call_id=call_id,
                    name=function["name"], arguments="")  # fmt: skip
        self._add(item, beta)
        item.arguments = function["arguments"]
        where = self._where(item) | {"call_id": item.call_id}
        self.emit("response.function_call_arguments.delta", **where, delta=item.arguments)
        done: dict[str, Any] = {"arguments": item.arguments}
        if not beta:
            done["name"] = item.name
        self.emit("response.function_call_arguments.done", **where, **done)
        self._finish_item(item, "completed")


def failure(exc: Exception) -> dict[str, Any]:
    """Why a response failed, as OpenAI writes it; what the server did not expect is logged
    and said in general words (never the exception's own text)."""
    if isinstance(exc, APIError):
        return {"type": exc.type, "code": exc.code or "server_error", "message": exc.message}
    logger.error("a realtime response failed", exc_info=exc)
    message = "The server had an error while making this response; it was logged."
    return {"type": "server_error", "code": "server_error", "message": message}
