"""POST /v1/chat/completions."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Router, post
from litestar.response import Stream

from stepaudio_api.api.dependencies import ServicesDependency
from stepaudio_api.api.json_body import decode_json_body
from stepaudio_api.api.openapi import EVENTS, documented
from stepaudio_api.api.request_context import caller_of, request_id_of
from stepaudio_api.api.streaming import start_streaming
from stepaudio_api.errors import InvalidRequest
from stepaudio_api.protocol.chat import ChatCompletionRequest


async def create_chat_completion(request: Request, services: ServicesDependency) -> Stream:
    body = await request.body()
    chat_request = decode_json_body(body, ChatCompletionRequest)
    raw: Any = msgspec.json.decode(body)  # the fields passed upstream as they came
    if not isinstance(raw, dict):
        raise InvalidRequest("The request body must be a JSON object")
    meter = services.meter(caller_of(request), request_id_of(request), "chat")
    stream = services.chat.create_completion(chat_request, raw, caller_of(request), meter)
    return await start_streaming(meter.track(stream))


def chat_router(max_request_bytes: int) -> Router:
    """Chat bodies carry base64 audio, so their size limit is the chat one, not the JSON one."""
    handler = post(
        "/completions", status_code=200, request_max_body_size=max_request_bytes,
        opt=documented(body=ChatCompletionRequest,
                       answers={"application/json": {"type": "object"}} | EVENTS,
                       example={"model": "gpt-4o-audio-preview", "modalities": ["text", "audio"],
                                "audio": {"voice": "alloy", "format": "wav"},
                                "messages": [{"role": "user", "content": "Hello!"}]}),
    )  # fmt: skip
    return Router("/v1/chat", route_handlers=[handler(create_chat_completion)])
