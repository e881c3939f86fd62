"""What a realtime session uses from the rest of the server: the recogniser, the chat model,
the voices, the tools and the store; one object per server, shared by its sessions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from stepaudio_api.audio.resample import StreamResampler
from stepaudio_api.engines.base import Recognizer, Segment, TranscriptionOptions
from stepaudio_api.engines.chat import ChatEngine
from stepaudio_api.errors import APIError
from stepaudio_api.extensions.tools import ToolRegistry
from stepaudio_api.protocol.realtime import BadEvent
from stepaudio_api.serving.chat_request import server_tool_policy, with_words_heard
from stepaudio_api.serving.chat_speech import ReplySpeaker
from stepaudio_api.serving.hearing import hear
from stepaudio_api.serving.metering import BackgroundWrites
from stepaudio_api.serving.models import ModelCatalog
from stepaudio_api.serving.realtime.audio_formats import OutputAudio, RealtimeAudioFormat
from stepaudio_api.serving.realtime.capacity import RealtimeCapacity
from stepaudio_api.serving.realtime.conversation import Conversation, Item
from stepaudio_api.serving.realtime.responder import Responder, ResponsePlan
from stepaudio_api.serving.realtime.response_options import ResponseOptions
from stepaudio_api.serving.realtime.session_config import SessionConfig
from stepaudio_api.serving.reply_voices import ReplyVoices
from stepaudio_api.serving.speech import SpeechServing
from stepaudio_api.serving.speech_style import SpeechStyle
from stepaudio_api.serving.transcript_formats import full_text
from stepaudio_api.settings import Settings
from stepaudio_api.speakers.book import SpeakerBook
from stepaudio_api.store.realtime_sessions import RealtimeSessionStore

if TYPE_CHECKING:
    from stepaudio_api.serving.realtime.session import RealtimeSession

logger = logging.getLogger(__name__)


class SessionParts:
    def __init__(self, settings: Settings, catalog: ModelCatalog, speech: SpeechServing,
                 tools: ToolRegistry, store: RealtimeSessionStore,
                 writes: BackgroundWrites) -> None:  # fmt: skip
        self.settings, self.catalog, self.speech = settings, catalog, speech
        self.tools, self.store, self.writes = tools, store, writes
        self.capacity = RealtimeCapacity(settings.realtime)

    def chat_model(self, model: str) -> ChatEngine:
        engine = self.catalog.resolve(model, "chat").engine
        assert isinstance(engine, ChatEngine)
        return engine

    # -- the checks of session.update that need the server (session_update.SessionChecks) --

    def check_model(self, config: SessionConfig, param: str) -> None:
        """A realtime session's model thinks (a chat model); a transcription session's hears."""
        capability = "chat" if config.type == "realtime" else "transcription"
        with _named(param):
            self.catalog.resolve(config.model, capability)

    def check_transcription(self, transcription: dict[str, Any], param: str) -> None:
        with _named(f"{param}.model"):
            engine = self._recognizer_engine(transcription.get("model"))
        language = transcription.get("language")
        if language and language not in engine.languages:
            raise BadEvent(
                f"Invalid '{param}.language': the transcription model cannot recognise "
                f"'{language}'; it can: {', '.join(engine.languages)}",
                "unsupported_language", f"{param}.language",
            )  # fmt: skip

    async def check_voice(self, config: SessionConfig, param: str,
                          voice: str | None = None) -> None:  # fmt: skip
        """A voice nobody can speak (no engine's, no cloned voice's) is refused when it is
        set, not at the first response."""
        style = SpeechStyle(speed=config.speed)
        with _named(param):
            route = self.speech.route_voice(self.settings.realtime.speech_model,
                                            voice or config.voice, style)  # fmt: skip
            await self.speech.plan(route, style)

    # -- hearing ----------------------------------------------------------------------------

    def _recognizer_engine(self, model: str | None) -> Recognizer:
        name = model or self.settings.realtime.transcription_model
        engine = self.catalog.resolve(name, "transcription").engine
        assert isinstance(engine, Recognizer)
        return engine

    def recognizer(self, config: SessionConfig) -> tuple[Recognizer, TranscriptionOptions]:
        """The session's recogniser (its transcription model, checked when it was set, or the
        server's default) and what it is told."""
        transcription = config.transcription or {}
        engine = self._recognizer_engine(transcription.get("model"))
        language = transcription.get("language") or None
        prompt = transcription.get("prompt") or None
        # a turn's text is wanted at once, and only its text
        return engine, TranscriptionOptions(language=language, prompt=prompt, quick=True)

    def busy(self) -> bool:
        """Every inference thread is at work and more jobs wait."""
        pool = self.catalog.registry.pool
        return pool.running_jobs > pool.threads

    async def transcribe(self, config: SessionConfig, audio: np.ndarray) -> str:
        return full_text(await self.transcribe_segments(config, audio))

    async def transcribe_segments(
        self, config: SessionConfig, audio: np.ndarray, speakers: SpeakerBook | None = None
    ) -> list[Segment]:
        """A turn's segments; a diarizing model labels them with the session's ``speakers``."""
        if len(audio) < 1600:  # under 0.1 s: nothing to hear
            return []
        engine, options = self.recognizer(config)
        if engine.diarizes:
            options = replace(options, speakers=speakers or SpeakerBook())
        # a session is admitted once (within its key's session limit): its turns wait for a
        # worker rather than being refused when the HTTP request queue is full
        stream = await hear(engine, audio, options)
        return [s async for s in stream.segments]

    async def listen(self, config: SessionConfig, audio: np.ndarray) -> str | None:
        """The audio as the session's model reads it, if it hears audio itself; a failure is
        logged and the model reads the transcript instead."""
        engine = self.chat_model(config.model)
        if not engine.hears_audio or len(audio) < 1600:
            return None
        try:
            return await engine.listen(audio)
        except Exception:
            logger.exception("realtime session %s: the model could not hear the audio", config.id)
            return None

    @staticmethod
    def resample_to_16k(samples: np.ndarray, audio_format: RealtimeAudioFormat) -> np.ndarray:
        resampler = StreamResampler(audio_format.rate, 16000)
        return np.concatenate([resampler.feed(samples), resampler.flush()])

    # -- responses --------------------------------------------------------------------------

    def responder(self, session: RealtimeSession, conversation: Conversation,
                  emit: Callable[..., None]) -> Responder:  # fmt: skip
        declared = {t["name"] for t in session.config.tools}
        policy = server_tool_policy(self.settings.chat, self.tools, declared,
                                    session.config.audio_output)  # fmt: skip
        return Responder(self.chat_model(session.config.model), self.tools, policy,
                         conversation, emit)  # fmt: skip

    async def run_response(
        self, session: RealtimeSession, responder: Responder, options: ResponseOptions,
        own_item: str | None = None, turn: Item | None = None,
    ) -> None:  # fmt: skip
        """Wait for the transcripts the conversation still lacks (but ``own_item``'s, which a
        speculation has heard itself), plan, speak."""
        pending = [f for item_id, f in session.transcripts.items()
                   if not f.done() and item_id != own_item]  # fmt: skip
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        if turn is not None and not turn.text().strip():
            session.awaiting_answer = None  # nothing was heard (noise, or the recogniser
            return  # failed): no reply is owed
        plan = self.plan(session, responder.conversation, options)
        speaker = partial(self.speaker, session, plan, options) if plan.audio else None
        await responder.run(plan, speaker, session.beta)
        if own_item is None:  # a speculation's response counts only once it is adopted
            session.after_response(responder)

    def plan(self, session: RealtimeSession, conversation: Conversation,
             options: ResponseOptions) -> ResponsePlan:  # fmt: skip
        """The response's settings: its options, else the session's."""
        config = session.config
        instructions = options.instructions if options.instructions is not None else (
            config.instructions)  # fmt: skip
        output_format = options.output_format or config.output_format
        tools = options.tools if options.tools is not None else config.tools
        chat_tools = [{"type": "function", "function": {
            "name": t["name"], "description": t.get("description", ""),
            "parameters": t.get("parameters") or {"type": "object", "properties": {}}}}
            for t in tools]  # fmt: skip
        tool_choice = options.tool_choice if options.tool_choice is not None else (
            config.tool_choice)  # fmt: skip
        if isinstance(tool_choice, dict):
            tool_choice = {"type": "function", "function": {"name": tool_choice["name"]}}
        source = Conversation()
        source.items = options.input if options.input is not None else conversation.items
        temperature = options.temperature
        if temperature is None and session.beta:
            temperature = config.temperature
        return ResponsePlan(
            messages=source.chat_messages(instructions),
            audio=config.audio_output if options.audio is None else options.audio,
            voice=options.voice or config.voice, output_format=output_format.as_ga(),
            beta_format=output_format.name, tools=chat_tools, tool_choice=tool_choice,
            temperature=temperature,
            max_output_tokens=options.max_output_tokens or config.max_output_tokens,
            metadata=options.metadata, in_conversation=options.in_conversation,
            acknowledgement=self.settings.chat.acknowledgement, instructions=instructions,
        )  # fmt: skip

    async def speaker(self, session: RealtimeSession, plan: ResponsePlan,
                      options: ResponseOptions) -> ReplySpeaker:  # fmt: skip
        """The voice that speaks the response: its style from the session's speed, then what
        the instructions and the user's last words ask for (a dialect, an emotion)."""
        config = session.config
        last_user = next((m["content"] for m in reversed(plan.messages)
                          if m["role"] == "user"), "")  # fmt: skip
        style = with_words_heard(self.speech.styles, SpeechStyle(speed=config.speed),
                                 plan.instructions)  # fmt: skip
        style = with_words_heard(self.speech.styles, style, last_user or "")
        with _named(options.voice_param if options.voice else "session.audio.output.voice"):
            route = self.speech.route_voice(self.settings.realtime.speech_model, plan.voice,
                                            style)  # fmt: skip
            speech_plan = await self.speech.plan(route, style)
        dialect = style.dialect
        if dialect is not None and dialect.acknowledgement:
            plan.acknowledgement = dialect.acknowledgement
        audio_format = options.output_format or config.output_format
        encoder = OutputAudio(audio_format, speech_plan.sample_rate)
        voices = ReplyVoices(self.speech, route, style)
        return ReplySpeaker(speech_plan, encoder, admitted=True, voices=voices)

    def save_item(self, session: RealtimeSession, item: Item) -> None:
        if item not in session.conversation.items:
            return
        position = session.conversation.items.index(item)
        wired = item.wire(False)
        self.writes.spawn(self._save(session.config.id, position, wired))

    async def _save(self, session_id: str, position: int, item: dict[str, Any]) -> None:
        try:
            await self.store.save_item(session_id, position, item)
        except Exception:
            logger.exception("could not save item %s of session %s", item["id"], session_id)


@contextmanager
def _named(param: str) -> Iterator[None]:
    """A refusal from the rest of the server (an unknown model or voice) as an error event
    that names the session's or the response's field."""
    try:
        yield
    except APIError as exc:
        raise BadEvent(exc.message, exc.code or "invalid_value", param) from None
