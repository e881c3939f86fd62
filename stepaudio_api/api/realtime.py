"""WS /v1/realtime: OpenAI's Realtime API (GA events, or beta ones for a beta client)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import msgspec
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect

from stepaudio_api.api.dependencies import ServicesDependency
from stepaudio_api.api.errors import as_api_error
from stepaudio_api.api.request_context import caller_of, request_id_of
from stepaudio_api.errors import APIError
from stepaudio_api.protocol.realtime import BadEvent
from stepaudio_api.serving.realtime.session import RealtimeSession

BETA_SUBPROTOCOL = "openai-beta.realtime-v1"
KEY_SUBPROTOCOL = "openai-insecure-api-key."
RETRY_LATER = ("server_at_capacity", "database_unavailable", "server_shutting_down")


def _subprotocol(offered: list[str]) -> str | None:
    """The one to echo: "realtime" as browsers offer it, else any offered that is not the key."""
    if "realtime" in offered:
        return "realtime"
    return next((p for p in offered if not p.startswith(KEY_SUBPROTOCOL)), None)


async def _send_events(socket: WebSocket, session: RealtimeSession) -> None:
    while (event := await session.outbox.get()) is not None:
        await socket.send_text(msgspec.json.encode(event).decode())


async def _refuse(socket: WebSocket, exc: APIError) -> None:
    """One error event, then the close: 1013 (try again later) when the server is at capacity
    or its store is away, 1008 (policy) for the rest."""
    error = {"type": exc.type, "code": exc.code, "message": exc.message, "param": exc.param}
    await socket.send_text(msgspec.json.encode({"type": "error", "event_id": "event_0",
                                                "error": error}).decode())  # fmt: skip
    code = 1013 if exc.code in RETRY_LATER else 1008
    await socket.close(code=code, reason=exc.message[:120])


@websocket("/v1/realtime")
async def realtime(socket: WebSocket, services: ServicesDependency) -> None:
    offered = list(socket.scope.get("subprotocols") or [])
    beta = BETA_SUBPROTOCOL in offered or "realtime=v1" in socket.headers.get("openai-beta", "")
    await socket.accept(subprotocols=_subprotocol(offered))
    caller = caller_of(socket)
    query = socket.query_params
    try:
        session = services.realtime.open(caller, query.get("model"), query.get("intent"), beta)
    except APIError as exc:
        await _refuse(socket, exc)
        return
    meter = services.meter(caller, request_id_of(socket), "realtime")
    try:
        await services.realtime.begin(session, caller, meter)
    except Exception as exc:  # over quota, or the store is away: nothing has started
        await services.realtime.end(session, caller, meter)
        await _refuse(socket, as_api_error(exc))
        return
    sender = asyncio.get_running_loop().create_task(_send_events(socket, session))
    limit = services.settings.realtime.max_event_bytes
    stopping = asyncio.ensure_future(session.stopping.wait())
    receiving: asyncio.Future[Any] | None = None
    try:
        while True:
            receiving = asyncio.ensure_future(socket.receive())
            await asyncio.wait({receiving, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not receiving.done():
                break  # the server is shutting down: the session has said so
            message = receiving.result()
            if message["type"] == "websocket.disconnect":
                break
            data = message.get("text") or message.get("bytes") or b""
            if len(data) > limit:
                session.error(BadEvent(
                    f"The event is {len(data)} bytes; the largest accepted is {limit} "
                    "(an input_audio_buffer.append carries at most 15 MiB of audio)",
                    "event_too_large",
                ))  # fmt: skip
                continue
            await session.handle(data)
    except WebSocketDisconnect:
        pass
    finally:
        for waiter in (receiving, stopping):
            if waiter is not None:
                waiter.cancel()
        await services.realtime.end(session, caller, meter)
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
            await asyncio.wait_for(sender, timeout=2)  # the last events (the shutdown's error)
        if session.stopping.is_set():
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                await socket.close(code=1012, reason="the server is restarting")
