"""Realtime sessions for the WebSocket route: opened within each key's limit, kept in the store
while they last, metered as one usage record each."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter

from stepaudio_api.errors import APIError
from stepaudio_api.serving.metering import RequestMeter
from stepaudio_api.serving.models import ModelCatalog
from stepaudio_api.serving.realtime.session import RealtimeSession
from stepaudio_api.serving.realtime.session_config import SessionConfig, TurnDetectionConfig
from stepaudio_api.serving.realtime.session_parts import SessionParts
from stepaudio_api.serving.realtime.turn_detection import TurnSettings
from stepaudio_api.settings import Settings
from stepaudio_api.store.api_keys import Caller

DEFAULT_MODEL = "step-audio-realtime"
logger = logging.getLogger(__name__)


class SessionLimitReached(APIError):
    status = 429
    type = "invalid_request_error"


class ServerShuttingDown(APIError):
    status = 503
    type = "server_error"

    def __init__(self) -> None:
        super().__init__("The server is shutting down; connect again in a moment",
                         code="server_shutting_down", headers={"Retry-After": "5"})  # fmt: skip


class RealtimeServing:
    def __init__(self, settings: Settings, catalog: ModelCatalog, parts: SessionParts) -> None:
        self.settings, self.catalog, self.parts = settings, catalog, parts
        self.open_sessions: Counter[str | None] = Counter()
        self.sessions: set[RealtimeSession] = set()
        self.draining = False
        self._none_open = asyncio.Event()

    def open(self, caller: Caller, model: str | None, intent: str | None,
             beta: bool) -> RealtimeSession:  # fmt: skip
        """A new session (a realtime or a transcription one), or the APIError to send."""
        if self.draining:
            raise ServerShuttingDown()
        limit = self.settings.realtime.max_sessions_per_key
        if self.open_sessions[caller.key_id] >= limit:
            raise SessionLimitReached(
                f"The key '{caller.name}' already has {limit} open realtime sessions on this "
                "server (realtime.max_sessions_per_key); close one first",
                code="session_limit_reached",
            )
        self.parts.capacity.check()  # 503: the server cannot answer one more conversation
        transcription = intent == "transcription" or (
            model is not None and model in self.catalog.by_name
            and self.catalog.by_name[model].capability == "transcription"
        )  # fmt: skip
        if transcription:
            name = model or self.settings.realtime.transcription_model
            self.catalog.resolve(name, "transcription")  # 404 unknown, 503 not loaded
            config = SessionConfig(model=name, type="transcription", audio_output=False)
            config.transcription = {"model": name}
        else:
            name = model or DEFAULT_MODEL
            self.catalog.resolve(name, "chat")  # 404 unknown, 400 not a chat model, 503 no brain
            speculate = self.settings.realtime.speculate_after_ms
            detection = TurnDetectionConfig(TurnSettings(speculate_after_ms=speculate))
            config = SessionConfig(model=name, turn_detection=detection)
        session = RealtimeSession(self.parts, config, beta)
        self.open_sessions[caller.key_id] += 1
        self.parts.capacity.open += 1
        self.sessions.add(session)
        self._none_open.clear()
        return session

    async def begin(self, session: RealtimeSession, caller: Caller, meter: RequestMeter) -> None:
        await meter.admit(session.config.model)
        await self.parts.store.open(session.config.id, caller.key_id, session.config.model,
                                    session.config.type, session.config.wire(False))  # fmt: skip
        session.start()

    async def end(self, session: RealtimeSession, caller: Caller, meter: RequestMeter) -> None:
        """Always called once the socket is gone: tasks stopped, record and row finished (the
        record later, if the store is away now)."""
        if session not in self.sessions:
            return
        self.sessions.discard(session)
        if not self.sessions:
            self._none_open.set()
        self.open_sessions[caller.key_id] -= 1
        self.parts.capacity.open -= 1
        await session.close()
        measured = meter.measured
        measured.audio_seconds_in = round(session.audio_seconds_in, 3)
        measured.audio_seconds_out = round(session.audio_seconds_out, 3)
        measured.input_tokens, measured.output_tokens = session.tokens_in, session.tokens_out
        await meter.finish("completed")
        totals = {
            "audio_seconds_in": measured.audio_seconds_in,
            "audio_seconds_out": measured.audio_seconds_out,
            "input_tokens": session.tokens_in,
            "output_tokens": session.tokens_out,
        }
        try:
            await self.parts.store.close(session.config.id, session.config.wire(False), totals)
        except Exception as exc:
            logger.warning("realtime session %s: its row was not closed: %s",
                           session.config.id, exc)  # fmt: skip

    async def drain(self, grace_seconds: float) -> None:
        """The server is shutting down: no new sessions; each open one is told so (an error
        event), may finish the response it is making, and is then closed (1012), all within
        ``grace_seconds``."""
        self.draining = True
        if not self.sessions:
            return
        deadline = asyncio.get_running_loop().time() + grace_seconds
        for session in list(self.sessions):
            session.shut_down(deadline)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._none_open.wait(), grace_seconds + 1.0)
