"""One realtime session: client events in, server events out, turns detected in the audio,
responses started, cancelled on barge-in, and prepared speculatively during pauses."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Coroutine
from typing import Any

from stepaudio_api.audio.vad import SpeechProbabilities
from stepaudio_api.errors import APIError
from stepaudio_api.protocol.realtime import BadEvent, ClientEvent, parse_client_event, wire_name
from stepaudio_api.serving.realtime.audio_formats import BadAudio
from stepaudio_api.serving.realtime.conversation import Conversation, Item, item_from_client
from stepaudio_api.serving.realtime.input_audio import MIN_COMMIT_MS, InputAudioBuffer
from stepaudio_api.serving.realtime.responder import Responder
from stepaudio_api.serving.realtime.response_options import ResponseOptions, response_options
from stepaudio_api.serving.realtime.session_config import SessionConfig
from stepaudio_api.serving.realtime.session_parts import SessionParts
from stepaudio_api.serving.realtime.session_update import updated_config, voice_param
from stepaudio_api.serving.realtime.speculation import Speculation
from stepaudio_api.serving.realtime.turn_detection import (
    TurnDetector,
)
from stepaudio_api.serving.realtime.turn_taking import TurnTaking
from stepaudio_api.speakers.book import SpeakerBook

logger = logging.getLogger(__name__)
ANSWER_EVENTS = frozenset(("response.output_audio.delta", "response.output_text.delta",
                           "response.function_call_arguments.delta"))  # fmt: skip
"""The first of these after a turn ends is its answer beginning (for the capacity measure)."""


class RealtimeSession(TurnTaking):
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
        self.speakers = SpeakerBook()
        """With a diarizing transcription model: the speakers heard so far, so that one keeps
        its label from turn to turn."""
        self.hearing_in_turn = asyncio.Lock()
        """Turns are heard one at a time, in the order they were committed, so that speakers
        are lettered in the order they spoke (not the order their turns were recognised)."""
        self.audio_seconds_in = 0.0
        self.audio_seconds_out = 0.0
        self.tokens_in = self.tokens_out = 0
        self.idle_since_ms = 0
        """Where the current stretch without speech or a response began (session clock)."""
        self.awaiting_answer: float | None = None
        """When the last turn ended (loop time), while its answer has not begun."""
        self.closed = False
        self.stopping = asyncio.Event()
        """Set when the server is shutting down and this session is to end now (1012)."""

    # -- output ---------------------------------------------------------------------------

    def turn_waited(self) -> None:
        """The last turn's answer began (or its wait ended without one): how long it took."""
        if self.awaiting_answer is not None:
            waited = asyncio.get_running_loop().time() - self.awaiting_answer
            self.parts.capacity.answered(waited)
            self.awaiting_answer = None

    def emit(self, kind: str, **fields: Any) -> None:
        if kind in ANSWER_EVENTS:
            self.turn_waited()
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

    def spawn(self, work: Coroutine[Any, Any, Any], what: str) -> asyncio.Task[Any]:
        """Run ``work`` beside the session's events; if it fails, the client hears of it (an
        error event) and the session goes on: no task of a session fails silently."""
        task = asyncio.get_running_loop().create_task(self._reported(work, what))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def _reported(self, work: Coroutine[Any, Any, Any], what: str) -> Any:
        try:
            return await work
        except asyncio.CancelledError:
            raise
        except APIError as exc:
            self.error(exc)
        except Exception:
            logger.exception("realtime session %s: %s failed", self.config.id, what)
            self.emit("error", error={
                "type": "server_error", "code": "server_error", "param": None, "event_id": None,
                "message": f"The server had an error in {what}; it was logged, and the "
                           "session goes on.",
            })  # fmt: skip

    # -- client events --------------------------------------------------------------------

    def start(self) -> None:
        self.emit("session.created", session=self.config.wire(self.beta))
        if self.beta:
            conversation = {"id": "conv_" + self.config.id[5:], "object": "realtime.conversation"}
            self.emit("conversation.created", conversation=conversation)

    async def handle(self, raw: str | bytes) -> None:
        """One client event: acted on, or answered with an error event; never the end of
        the session."""
        event_id = None
        try:
            event = parse_client_event(raw)
            event_id = event.event_id
            await self._dispatch(event)
        except (BadEvent, APIError) as exc:
            self.error(exc, event_id)
        except Exception:
            logger.exception("realtime session %s: event %s failed", self.config.id, event_id)
            self.emit("error", error={
                "type": "server_error", "code": "server_error", "param": None,
                "event_id": event_id, "message": "The server had an error while handling this "
                "event; it was logged, and the session goes on.",
            })  # fmt: skip

    async def _dispatch(self, event: ClientEvent) -> None:
        handler = getattr(self, "_on_" + event.type.replace(".", "_"), None)
        assert handler is not None, event.type
        await handler(event)

    async def _on_session_update(self, event: Any) -> None:
        update = dict(event.session)
        if event.type == "transcription_session.update":  # beta's transcription sessions
            update["type"] = "transcription"
        staged = updated_config(self.config, update, self.parts)
        if staged.type == "realtime" and staged.audio_output:
            await self.parts.check_voice(staged, voice_param(update))
        before = (self.config.input_format, self.config.turn_detection)
        self.config.adopt(staged)
        if (self.config.input_format, self.config.turn_detection) != before:
            self.buffer.change_format(self.config.input_format)
            # the new detector goes on from the session clock (whole 32 ms windows heard)
            heard_ms = int(self.buffer.received_ms // 32 * 32)
            self.detector = TurnDetector(self._turn_settings(), heard_ms)
        if event.type == "transcription_session.update":
            wired = self.config.wire_beta_transcription()
            self.emit("transcription_session.updated", session=wired)
            return
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
        for window in self.vad.feed(at_16k):
            for turn_event in self.detector.window(window.probability, window.rms):
                await self._on_turn_event(turn_event)
        self._check_idle()

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
        item = self.conversation.get(event.item_id, "retrieve")
        self.emit("conversation.item.retrieved", item=item)

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
        options = response_options(event.response, self.conversation)
        audio = self.config.audio_output if options.audio is None else options.audio
        if audio and options.voice is not None:
            await self.parts.check_voice(self.config, options.voice_param, options.voice)
        self._respond(options)

    async def _on_response_cancel(self, event: Any) -> None:
        active = self.response_task is not None and not self.response_task.done()
        other = self.response is not None and event.response_id not in (None, self.response.id)
        if not active or other:
            raise BadEvent("Cancellation failed: no active response found",
                           "response_cancel_not_active")  # fmt: skip
        self._cancel_response("client_cancelled")

    # -- responses ------------------------------------------------------------------------

    def _respond(self, options: ResponseOptions, after: Item | None = None) -> None:
        """Start a response; ``after``: the user's turn it answers (none if nothing was said)."""
        responder = self.parts.responder(self, self.conversation, self.emit)
        self.response = responder
        work = self.parts.run_response(self, responder, options, turn=after)
        self.response_task = self.spawn(work, "a response")

    def _cancel_response(self, reason: str) -> None:
        if self.response is not None and self.response_task is not None:
            self.response.cancel_reason = reason
            self.response_task.cancel()

    def after_response(self, responder: Responder) -> None:
        """A response finished (or was cancelled): count it, keep its items, say the limits."""
        if self.awaiting_answer is not None:  # it ended before a word or sound of it went out
            self.turn_waited()
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

    def shut_down(self, deadline: float) -> None:
        """The server is going: say so, let the response being made finish (until
        ``deadline``, loop time), then end the session."""
        self.emit("error", error={
            "type": "server_error", "code": "server_shutting_down", "param": None,
            "event_id": None, "message": "The server is restarting: this session ends "
            "after the response in progress; connect again to go on",
        })  # fmt: skip

        async def finish_then_stop() -> None:
            task = self.response_task
            if task is not None and not task.done():
                left = deadline - asyncio.get_running_loop().time()
                await asyncio.wait({task}, timeout=max(0.0, left))
            self.stopping.set()

        asyncio.get_running_loop().create_task(finish_then_stop())

    async def close(self) -> None:
        """The client went away: stop everything now (an upstream stream closes with its task)."""
        self.closed = True
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=1.0)
        self.outbox.put_nowait(None)
