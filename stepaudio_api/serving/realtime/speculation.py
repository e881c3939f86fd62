"""A response prepared while the user pauses: heard, asked and spoken ahead, its events held,
sent only if the turn ends there; thrown away if the user goes on."""

from __future__ import annotations

import asyncio
import secrets
from typing import TYPE_CHECKING, Any

import numpy as np

from stepaudio_api.serving.realtime.conversation import Conversation, Item, Part
from stepaudio_api.serving.realtime.response_options import ResponseOptions
from stepaudio_api.serving.realtime.turn_detection import sounds_finished

if TYPE_CHECKING:
    from stepaudio_api.serving.realtime.session import RealtimeSession


class HeldEvents:
    """Events kept until ``release``; after it they pass straight through. An item is kept as
    it was when its event was made (``in_progress``, empty), not as it is at the release."""

    def __init__(self, beta: bool) -> None:
        self.beta = beta
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.target: Any = None

    def __call__(self, kind: str, **fields: Any) -> None:
        if self.target is not None:
            self.target(kind, **fields)
            return
        now = {k: v.wire(self.beta) if isinstance(v, Item) else v for k, v in fields.items()}
        self.events.append((kind, now))

    def release(self, emit: Any) -> None:
        for kind, fields in self.events:
            emit(kind, **fields)
        self.events, self.target = [], emit


class Speculation:
    def __init__(self, session: RealtimeSession, item_id: str | None, audio: np.ndarray) -> None:
        self.session = session
        self.user = Item("message", id=item_id or "item_" + secrets.token_hex(10), role="user",
                         content=[Part("input_audio", transcript=None)])  # fmt: skip
        # the conversation as it will be if the turn ends here, apart from the real one
        conversation = Conversation()
        conversation.items = [*session.conversation.items, self.user]
        self.held = HeldEvents(session.beta)
        self.responder = session.parts.responder(session, conversation, self.held)
        self.transcript: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.answered = self.adopted = False
        """The response is made; the turn ended as assumed. Only with both is it counted
        (tokens, audio, items kept): a response thrown away was never sent."""
        self.task: asyncio.Task[None] = session.spawn(self._run(audio), "a speculative response")

    async def _run(self, audio: np.ndarray) -> None:
        session = self.session
        try:
            text = await session.parts.transcribe(session.config, audio)
        except asyncio.CancelledError:
            self.transcript.cancel()
            raise
        except Exception as exc:
            # reported by the session's hearing of the item if the turn is adopted
            # (conversation.item.input_audio_transcription.failed); no reply then
            self.transcript.set_exception(exc)
            return
        self.transcript.set_result(text)
        self.user.content[0].transcript = text
        self.user.content[0].tokens = await session.parts.listen(session.config, audio)
        # semantic_vad: a finished-sounding sentence ends the turn sooner, an unfinished one later
        session.detector.sounds_finished = sounds_finished(text)
        if text.strip():  # a pause after noise: nothing to answer
            await session.parts.run_response(
                session, self.responder, ResponseOptions(), own_item=self.user.id
            )
            self.answered = True
            if self.adopted:
                session.after_response(self.responder)

    def drop(self) -> None:
        """The user went on: nothing of this response is ever sent."""
        self.task.cancel()

    def adopt(self, audio: np.ndarray) -> None:
        """The turn ended as assumed: commit the user's item, then let the response out (the
        events held so far, then the rest as they come)."""
        session, user = self.session, self.user
        previous = session.conversation.add(user)
        user.content[0].transcript = None  # given with the transcription events, once heard
        session.emit("input_audio_buffer.committed", previous_item_id=previous, item_id=user.id)
        session.emit("conversation.item.added", previous_item_id=previous, item=user)
        session.emit("conversation.item.done", previous_item_id=previous, item=user)
        session.hear(user, audio, known=self.transcript)
        for item in self.responder.output:
            session.conversation.add(item)
        self.responder.conversation = session.conversation
        session.response, session.response_task = self.responder, self.task
        self.held.release(session.emit)
        self.adopted = True
        if self.answered:
            session.after_response(self.responder)
