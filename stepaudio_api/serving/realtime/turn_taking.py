"""Turn taking in a realtime session: what the turn detector's events do (commit the user's
audio, start or cancel responses, speculate during pauses), hearing the user's items, and the
idle timeout. A part of RealtimeSession, kept apart for its size."""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import TYPE_CHECKING, Any

import numpy as np

from stepaudio_api.engines.base import Segment
from stepaudio_api.errors import APIError
from stepaudio_api.serving.realtime.conversation import Item, Part
from stepaudio_api.serving.realtime.response_options import ResponseOptions
from stepaudio_api.serving.realtime.speculation import Speculation
from stepaudio_api.serving.realtime.turn_detection import (
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    SpeechStopped,
)
from stepaudio_api.serving.transcript_formats import full_text, segment_id

if TYPE_CHECKING:
    from stepaudio_api.serving.realtime.session import RealtimeSession

logger = logging.getLogger(__name__)


class TurnTaking:
    # -- turns ----------------------------------------------------------------------------

    def _turn_settings(self: RealtimeSession) -> Any:
        detection = self.config.turn_detection
        return detection.settings if detection else None

    async def _on_turn_event(self: RealtimeSession, event: Any) -> None:
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
            # speculation spends work on a guess: not when the recogniser already has a queue
            if self._responds_to_turns() and self.speculation is None and not self.parts.busy():
                audio = self.buffer.audio(self.turn_start_ms, event.audio_end_ms)
                self.speculation = Speculation(self, self.turn_item_id, audio)
        elif isinstance(event, SpeechResumed):
            self._drop_speculation()
        elif isinstance(event, SpeechStopped):
            self.emit("input_audio_buffer.speech_stopped", audio_end_ms=event.audio_end_ms,
                      item_id=self.turn_item_id)  # fmt: skip
            if self._responds_to_turns():
                self.turn_waited()  # the last turn's answer never began: it waited this long
                self.awaiting_answer = asyncio.get_running_loop().time()
            audio = self.buffer.take(self.turn_start_ms, event.audio_end_ms)
            speculation, self.speculation = self.speculation, None
            if speculation is not None and self._responds_to_turns():
                speculation.adopt(audio)
            else:
                item = self._commit(audio, self.turn_item_id)
                if self._responds_to_turns():
                    self._respond(ResponseOptions(), after=item)
            self.turn_item_id = None

    def _responds_to_turns(self: RealtimeSession) -> bool:
        detection = self.config.turn_detection
        realtime = self.config.type == "realtime"
        return realtime and detection is not None and detection.create_response

    def _commit(self: RealtimeSession, audio: np.ndarray, item_id: str | None) -> Item:
        item = Item("message", id=item_id or "item_" + secrets.token_hex(10), role="user",
                    content=[Part("input_audio", transcript=None)])  # fmt: skip
        previous = self.conversation.add(item)
        self.emit("input_audio_buffer.committed", previous_item_id=previous, item_id=item.id)
        self.emit("conversation.item.added", previous_item_id=previous, item=item)
        self.emit("conversation.item.done", previous_item_id=previous, item=item)
        self.hear(item, audio)
        return item

    def hear(self: RealtimeSession, item: Item, audio: np.ndarray,
             known: str | asyncio.Future[str] | None = None) -> None:  # fmt: skip
        """Transcribe a user item's audio in the background; responses wait for it."""
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.transcripts[item.id] = future

        async def hear() -> None:
            segments: list[Segment] = []
            try:
                if isinstance(known, asyncio.Future):
                    text = await known  # a speculation heard it already, or soon will
                elif known is not None:
                    text = known
                else:
                    async with self.hearing_in_turn:
                        segments = await self.parts.transcribe_segments(
                            self.config, audio, self.speakers
                        )
                    text = full_text(segments)
            except Exception as exc:
                if isinstance(exc, APIError):
                    message = exc.message
                else:
                    logger.error("realtime session %s: transcription failed", self.config.id,
                                 exc_info=exc)  # fmt: skip
                    message = "The server could not transcribe this audio; the error was logged."
                error = {"type": "server_error", "code": "transcription_failed",
                         "message": message, "param": None}  # fmt: skip
                self.emit("conversation.item.input_audio_transcription.failed", item_id=item.id,
                          content_index=0, error=error)  # fmt: skip
                text = ""
            else:
                if self.config.transcription is not None or self.config.type == "transcription":
                    seconds = round(len(audio) / 16000, 3)
                    for segment in (s for s in segments if s.speaker is not None):
                        self.emit("conversation.item.input_audio_transcription.segment",
                                  item_id=item.id, content_index=0, id=segment_id(segment),
                                  start=round(segment.start, 3), end=round(segment.end, 3),
                                  text=segment.text.strip(), speaker=segment.speaker)  # fmt: skip
                    self.emit("conversation.item.input_audio_transcription.delta", item_id=item.id,
                              content_index=0, delta=text)  # fmt: skip
                    self.emit("conversation.item.input_audio_transcription.completed",
                              item_id=item.id, content_index=0, transcript=text,
                              usage={"type": "duration", "seconds": seconds})  # fmt: skip
            tokens = None
            if any(p.type == "input_audio" and p.tokens is None for p in item.content):
                tokens = await self.parts.listen(self.config, audio)
            for part in item.content:
                if part.type == "input_audio" and part.transcript is None:
                    part.transcript = text
                if part.type == "input_audio" and part.tokens is None:
                    part.tokens = tokens
            future.set_result(text)
            self.parts.save_item(self, item)

        self.spawn(hear(), "hearing the user")

    def _check_idle(self: RealtimeSession) -> None:
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
            self._respond(ResponseOptions())

    def _drop_speculation(self: RealtimeSession) -> None:
        if self.speculation is not None:
            self.speculation.drop()
            self.speculation = None
