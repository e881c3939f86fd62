"""One realtime session: client events in, server events out, turns detected in the audio,
responses started, cancelled on barge-in, and prepared speculatively during pauses."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Coroutine
from typing import Any

import numpy as np

from stepaudio_api.audio.vad import SpeechProbabilities
from stepaudio_api.errors import APIError
from stepaudio_api.protocol.realtime import BadEvent, ClientEvent, parse_client_event, wire_name
from stepaudio_api.serving.realtime.audio_formats import BadAudio
from stepaudio_api.serving.realtime.conversation import Conversation, Item, Part, item_from_client
from stepaudio_api.serving.realtime.input_audio import MIN_COMMIT_MS, InputAudioBuffer
from stepaudio_api.serving.realtime.responder import Responder
from stepaudio_api.serving.realtime.session_config import SessionConfig
from stepaudio_api.serving.realtime.session_parts import SessionParts
from stepaudio_api.serving.realtime.speculation import Speculation
from stepaudio_api.serving.realtime.turn_detection import (
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    SpeechStopped,
    TurnDetector,
)

logger = logging.getLogger(__name__)


class RealtimeSession:
    def __init__(self, parts: SessionParts, config: SessionConfig, beta: bool) -> None:
        self.parts, self.config, self.beta = parts, config, beta
        self.outbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.conversation = Conversation()
        self.buffer = InputAudioBuffer(config.input_format)
        self.vad = SpeechProbabilities()
        self.detector = TurnDetector(self._turn_settings())
        self.turn_item_id: str | None = None
        self.turn_start_ms = 0
        self.response: Responder | None = None
        self.response_task: asyncio.Task[None] | None = None
        self.speculation: Speculation | None = None
        self.tasks: set[asyncio.Task[Any]] = set()
        self.transcripts: dict[str, asyncio.Future[str]] = {}
        self.audio_seconds_in = 0.0
        self.audio_seconds_out = 0.0
        self.tokens_in = self.tokens_out = 0
        self.idle_since_ms = 0
        """Where the current stretch without speech or a response began (session clock)."""
        self.closed = False

    # -- output ---------------------------------------------------------------------------

    def emit(self, kind: str, **fields: Any) -> None:
        name = wire_name(kind, self.beta)
        if name is None or self.closed:
            return
        for key, value in fields.items():
            if isinstance(value, Item):
                fields[key] = value.wire(self.beta)
        self.outbox.put_nowait({"type": name, "event_id": "event_" + secrets.token_hex(10),
                                **fields})  # fmt: skip

    def error(self, exc: BadEvent | APIError, event_id: str | None = None) -> None:
        error_type = exc.type if isinstance(exc, APIError) else "invalid_request_error"
        caused_by = getattr(exc, "event_id", None) or event_id
        error = {"type": error_type, "code": exc.code, "message": exc.message,
                 "param": exc.param, "event_id": caused_by}  # fmt: skip
        self.emit("error", error=error)

    def spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    # -- client events --------------------------------------------------------------------

    def start(self) -> None:
        self.emit("session.created", session=self.config.wire(self.beta))
        if self.beta:
            conversation = {"id": "conv_" + self.config.id[5:], "object": "realtime.conversation"}
            self.emit("conversation.created", conversation=conversation)

    async def handle(self, raw: str | bytes) -> None:
        event_id = None
        try:
            event = parse_client_event(raw)
            event_id = event.event_id
            await self._dispatch(event)
        except BadEvent as exc:
            self.error(exc, event_id)
        except APIError as exc:
            self.error(exc, event_id)

    async def _dispatch(self, event: ClientEvent) -> None:
        handler = getattr(self, "_on_" + event.type.replace(".", "_"), None)
        assert handler is not None, event.type
        await handler(event)

    async def _on_session_update(self, event: Any) -> None:
        before = (self.config.input_format, self.config.turn_detection)
        self.config.apply(event.session, self.beta)
        if (self.config.input_format, self.config.turn_detection) != before:
            self.buffer.change_format(self.config.input_format)
            self.detector = TurnDetector(self._turn_settings())
        self.parts.check_voice(self.config)
        self.emit("session.updated", session=self.config.wire(self.beta))

    _on_transcription_session_update = _on_session_update

    async def _on_input_audio_buffer_append(self, event: Any) -> None:
        try:
            samples = self.config.input_format.decode(event.audio)
        except BadAudio as exc:
            raise BadEvent(str(exc), "invalid_audio", "audio") from None
        self.audio_seconds_in += len(samples) / self.config.input_format.rate
        at_16k = self.buffer.append(samples)
        if self.config.turn_detection is None or not len(at_16k):
            return
        for probability in self.vad.feed(at_16k):
            for turn_event in self.detector.window(probability):
                await self._on_turn_event(turn_event)
        self._check_idle()

    def _check_idle(self) -> None:
        """GA server_vad's idle_timeout_ms: after that long without speech (and no response
        being made), the turn times out: the buffer is committed and a response started, so
        the model can prompt a silent user."""
        detection = self.config.turn_detection
        timeout = detection.idle_timeout_ms if detection else None
        responding = self.response_task is not None and not self.response_task.done()
        if not timeout or self.detector.speaking or responding:
            self.idle_since_ms = self.detector.elapsed_ms
            return
        if self.detector.elapsed_ms - self.idle_since_ms < timeout:
            return
        item_id = "item_" + secrets.token_hex(10)
        self.emit("input_audio_buffer.timeout_triggered", audio_start_ms=self.idle_since_ms,
                  audio_end_ms=self.detector.elapsed_ms, item_id=item_id)  # fmt: skip
        self.idle_since_ms = self.detector.elapsed_ms
        self._commit(self.buffer.take(), item_id)
        if self._responds_to_turns():
            self._respond({})

    async def _on_input_audio_buffer_commit(self, event: Any) -> None:
        if self.buffer.duration_ms < MIN_COMMIT_MS:
            raise BadEvent(
                f"Error committing input audio buffer: buffer too small. Expected at least "
                f"{MIN_COMMIT_MS}ms of audio, but buffer only has "
                f"{self.buffer.duration_ms:.2f}ms of audio.",
                "input_audio_buffer_commit_empty",
            )
        self.detector.reset()
        self._commit(self.buffer.take(), self.turn_item_id or None)

    async def _on_input_audio_buffer_clear(self, event: Any) -> None:
        self.buffer.clear()
        self.detector.reset()
        self._drop_speculation()
        self.emit("input_audio_buffer.cleared")

    async def _on_output_audio_buffer_clear(self, event: Any) -> None:
        raise BadEvent(
            "output_audio_buffer.clear is for WebRTC and SIP sessions; on a WebSocket stop "
            "playing locally and send conversation.item.truncate",
            "unsupported_event",
        )

    async def _on_conversation_item_create(self, event: Any) -> None:
        item = item_from_client(event.item)
        previous = self.conversation.add(item, event.previous_item_id)
        for index, part in enumerate(item.content):
            if part.type == "input_audio" and part.transcript is None and part.audio:
                try:
                    samples = self.config.input_format.decode(part.audio)
                except BadAudio as exc:
                    self.conversation.delete(item.id)
                    where = f"item.content[{index}].audio"
                    raise BadEvent(str(exc), "invalid_audio", where) from None
                part.audio = None
                self.hear(item, self.parts.resample_to_16k(samples, self.config.input_format))
        self.emit("conversation.item.added", previous_item_id=previous, item=item)
        self.emit("conversation.item.done", previous_item_id=previous, item=item)
        self.parts.save_item(self, item)

    async def _on_conversation_item_retrieve(self, event: Any) -> None:
        self.emit("conversation.item.retrieved", item=self.conversation.get(event.item_id))

    async def _on_conversation_item_delete(self, event: Any) -> None:
        self.conversation.delete(event.item_id)
        self.emit("conversation.item.deleted", item_id=event.item_id)

    async def _on_conversation_item_truncate(self, event: Any) -> None:
        self.conversation.truncate(event.item_id, event.content_index, event.audio_end_ms)
        self.emit("conversation.item.truncated", item_id=event.item_id,
                  content_index=event.content_index, audio_end_ms=event.audio_end_ms)  # fmt: skip
        self.parts.save_item(self, self.conversation.get(event.item_id))

    async def _on_response_create(self, event: Any) -> None:
        if self.config.type == "transcription":
            raise BadEvent("A transcription session makes no responses", "invalid_event")
        if self.response_task is not None and not self.response_task.done():
            active = self.response.id if self.response else ""
            raise BadEvent(
                f"Conversation already has an active response in progress: {active}. "
                "Wait until the response is finished before creating a new one.",
                "conversation_already_has_active_response",
            )
        self._respond(event.response or {})

    async def _on_response_cancel(self, event: Any) -> None:
        active = self.response_task is not None and not self.response_task.done()
        other = self.response is not None and event.response_id not in (None, self.response.id)
        if not active or other:
            raise BadEvent("Cancellation failed: no active response found",
                           "response_cancel_not_active")  # fmt: skip
        self._cancel_response("client_cancelled")

    # -- turns ----------------------------------------------------------------------------

    def _turn_settings(self) -> Any:
        detection = self.config.turn_detection
        return detection.settings if detection else None

    async def _on_turn_event(self, event: Any) -> None:
        detection = self.config.turn_detection
        assert detection is not None
        if isinstance(event, SpeechStarted):
            self.turn_item_id = "item_" + secrets.token_hex(10)
            self.turn_start_ms = event.audio_start_ms
            self.emit("input_audio_buffer.speech_started", audio_start_ms=event.audio_start_ms,
                      item_id=self.turn_item_id)  # fmt: skip
            responding = self.response_task is not None and not self.response_task.done()
            if detection.interrupt_response and responding:
                self._cancel_response("turn_detected")
        elif isinstance(event, SpeechPaused):
            if self._responds_to_turns() and self.speculation is None:
                audio = self.buffer.audio(self.turn_start_ms, event.audio_end_ms)
                self.speculation = Speculation(self, self.turn_item_id, audio)
        elif isinstance(event, SpeechResumed):
            self._drop_speculation()
        elif isinstance(event, SpeechStopped):
            self.emit("input_audio_buffer.speech_stopped", audio_end_ms=event.audio_end_ms,
                      item_id=self.turn_item_id)  # fmt: skip
            audio = self.buffer.take(self.turn_start_ms, event.audio_end_ms)
            speculation, self.speculation = self.speculation, None
            if speculation is not None and self._responds_to_turns():
                speculation.adopt(audio)
            else:
                item = self._commit(audio, self.turn_item_id)
                if self._responds_to_turns():
                    self._respond({}, after=item)
            self.turn_item_id = None

    def _responds_to_turns(self) -> bool:
        detection = self.config.turn_detection
        realtime = self.config.type == "realtime"
        return realtime and detection is not None and detection.create_response

    def _commit(self, audio: np.ndarray, item_id: str | None) -> Item:
        item = Item("message", id=item_id or "item_" + secrets.token_hex(10), role="user",
                    content=[Part("input_audio", transcript=None)])  # fmt: skip
        previous = self.conversation.add(item)
        self.emit("input_audio_buffer.committed", previous_item_id=previous, item_id=item.id)
        self.emit("conversation.item.added", previous_item_id=previous, item=item)
        self.emit("conversation.item.done", previous_item_id=previous, item=item)
        self.hear(item, audio)
        return item

    def hear(self, item: Item, audio: np.ndarray,
             known: str | asyncio.Future[str] | None = None) -> None:  # fmt: skip
        """Transcribe a user item's audio in the background; responses wait for it."""
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.transcripts[item.id] = future

        async def hear() -> None:
            try:
                if isinstance(known, asyncio.Future):
                    text = await known  # a speculation heard it already, or soon will
                elif known is not None:
                    text = known
                else:
                    text = await self.parts.transcribe(self.config, audio)
            except Exception as exc:
                logger.exception("transcription failed")
                error = {"type": "server_error", "code": "transcription_failed",
                         "message": str(exc), "param": None}  # fmt: skip
                self.emit("conversation.item.input_audio_transcription.failed", item_id=item.id,
                          content_index=0, error=error)  # fmt: skip
                text = ""
            else:
                if self.config.transcription is not None or self.config.type == "transcription":
                    seconds = round(len(audio) / 16000, 3)
                    self.emit("conversation.item.input_audio_transcription.delta", item_id=item.id,
                              content_index=0, delta=text)  # fmt: skip
                    self.emit("conversation.item.input_audio_transcription.completed",
                              item_id=item.id, content_index=0, transcript=text,
                              usage={"type": "duration", "seconds": seconds})  # fmt: skip
            for part in item.content:
                if part.type == "input_audio" and part.transcript is None:
                    part.transcript = text
            future.set_result(text)
            self.parts.save_item(self, item)

        self.spawn(hear())

    # -- responses ------------------------------------------------------------------------

    def _respond(self, overrides: dict[str, Any], after: Item | None = None) -> None:
        responder = self.parts.responder(self, self.conversation, self.emit)
        self.response = responder
        self.response_task = self.spawn(self.parts.run_response(self, responder, overrides))

    def _cancel_response(self, reason: str) -> None:
        if self.response is not None and self.response_task is not None:
            self.response.cancel_reason = reason
            self.response_task.cancel()

    def _drop_speculation(self) -> None:
        if self.speculation is not None:
            self.speculation.drop()
            self.speculation = None

    def after_response(self, responder: Responder) -> None:
        """A response finished (or was cancelled): count it, keep its items, say the limits."""
        usage = responder.result.usage
        self.tokens_in += usage.prompt_tokens
        self.tokens_out += usage.completion_tokens
        self.audio_seconds_out += responder.result.audio_seconds
        for item in responder.output:
            self.parts.save_item(self, item)
        self.emit("rate_limits.updated", rate_limits=[
            {"name": "requests", "limit": 1000, "remaining": 1000, "reset_seconds": 0.0},
            {"name": "tokens", "limit": 1_000_000, "remaining": 1_000_000, "reset_seconds": 0.0},
        ])  # fmt: skip

    # -- end ------------------------------------------------------------------------------

    async def close(self) -> None:
        """The client went away: stop everything now (an upstream stream closes with its task)."""
        self.closed = True
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=1.0)
        self.outbox.put_nowait(None)
