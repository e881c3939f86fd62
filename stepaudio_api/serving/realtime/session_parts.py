"""What a realtime session uses from the rest of the server: the recogniser, the chat model,
the voices, the tools and the store; one object per server, shared by its sessions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from stepaudio_api.audio.resample import StreamResampler
from stepaudio_api.engines.base import Recognizer, TranscriptionOptions
from stepaudio_api.engines.chat import ChatEngine
from stepaudio_api.extensions.tools import ToolRegistry
from stepaudio_api.serving.chat_request import server_tool_policy, with_words_heard
from stepaudio_api.serving.chat_speech import ReplySpeaker
from stepaudio_api.serving.metering import BackgroundWrites
from stepaudio_api.serving.models import ModelCatalog
from stepaudio_api.serving.realtime.audio_formats import OutputAudio, RealtimeAudioFormat
from stepaudio_api.serving.realtime.conversation import Conversation, Item
from stepaudio_api.serving.realtime.responder import Responder, ResponsePlan
from stepaudio_api.serving.realtime.session_config import SessionConfig
from stepaudio_api.serving.speech import SpeechServing
from stepaudio_api.serving.speech_style import SpeechStyle
from stepaudio_api.serving.transcript_formats import full_text
from stepaudio_api.settings import Settings
from stepaudio_api.store.realtime_sessions import RealtimeSessionStore

if TYPE_CHECKING:
    from stepaudio_api.serving.realtime.session import RealtimeSession

logger = logging.getLogger(__name__)
TRANSCRIPTION_ALIASES = {"gpt-4o-transcribe", "gpt-4o-mini-transcribe", "whisper-1"}


class SessionParts:
    def __init__(self, settings: Settings, catalog: ModelCatalog, speech: SpeechServing,
                 tools: ToolRegistry, store: RealtimeSessionStore,
                 writes: BackgroundWrites) -> None:  # fmt: skip
        self.settings, self.catalog, self.speech = settings, catalog, speech
        self.tools, self.store, self.writes = tools, store, writes

    def chat_model(self, model: str) -> ChatEngine:
        engine = self.catalog.resolve(model, "chat").engine
        assert isinstance(engine, ChatEngine)
        return engine

    def recognizer(self, config: SessionConfig) -> tuple[Recognizer, TranscriptionOptions]:
        wanted = (config.transcription or {}).get("model")
        name = wanted if wanted and wanted in self.catalog.by_name else (
            self.settings.realtime.transcription_model)  # fmt: skip
        engine = self.catalog.resolve(name, "transcription").engine
        assert isinstance(engine, Recognizer)
        language = (config.transcription or {}).get("language") or None
        if language and language not in engine.languages:
            language = None
        prompt = (config.transcription or {}).get("prompt") or None
        return engine, TranscriptionOptions(language=language, prompt=prompt)

    def busy(self) -> bool:
        """Every inference thread is at work and more jobs wait."""
        pool = self.catalog.registry.pool
        return pool.running_jobs > pool.threads

    async def transcribe(self, config: SessionConfig, audio: np.ndarray) -> str:
        if len(audio) < 1600:  # under 0.1 s: nothing to hear
            return ""
        engine, options = self.recognizer(config)
        # a session is admitted once (within its key's session limit): its turns wait for a
        # worker rather than being refused when the HTTP request queue is full
        stream = await engine.transcribe(audio, options)
        return full_text([s async for s in stream.segments])

    @staticmethod
    def resample_to_16k(samples: np.ndarray, audio_format: RealtimeAudioFormat) -> np.ndarray:
        resampler = StreamResampler(audio_format.rate, 16000)
        return np.concatenate([resampler.feed(samples), resampler.flush()])

    def check_voice(self, config: SessionConfig) -> None:
        """A voice nobody can speak is refused when it is set, not at the first response."""
        if config.type == "realtime" and config.audio_output:
            self.speech.route_voice(self.settings.realtime.speech_model, config.voice,
                                    SpeechStyle(speed=config.speed))  # fmt: skip

    def responder(self, session: RealtimeSession, conversation: Conversation,
                  emit: Callable[..., None]) -> Responder:  # fmt: skip
        declared = {t["name"] for t in session.config.tools}
        policy = server_tool_policy(self.settings.chat, self.tools, declared,
                                    session.config.audio_output)  # fmt: skip
        return Responder(self.chat_model(session.config.model), self.tools, policy,
                         conversation, emit)  # fmt: skip

    async def run_response(
        self, session: RealtimeSession, responder: Responder, overrides: dict[str, Any],
        own_item: str | None = None, turn: Item | None = None,
    ) -> None:  # fmt: skip
        """Wait for the transcripts the conversation still lacks (but ``own_item``'s, which a
        speculation has heard itself), plan, speak."""
        pending = [f for item_id, f in session.transcripts.items()
                   if not f.done() and item_id != own_item]  # fmt: skip
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        if turn is not None and not turn.text().strip():
            return  # nothing was heard in the turn (noise, or the recogniser failed): no reply
        plan, speaker = await self.plan(session, responder.conversation, overrides)
        await responder.run(plan, speaker, session.beta)
        session.after_response(responder)

    async def plan(
        self, session: RealtimeSession, conversation: Conversation, overrides: dict[str, Any]
    ) -> tuple[ResponsePlan, ReplySpeaker | None]:
        config = session.config
        instructions = overrides.get("instructions") or config.instructions
        modalities = overrides.get("output_modalities") or overrides.get("modalities")
        audio = config.audio_output if modalities is None else "audio" in modalities
        output = (overrides.get("audio") or {}).get("output") or {}
        voice = output.get("voice") or overrides.get("voice") or config.voice
        voice = voice.get("id", "") if isinstance(voice, dict) else str(voice)
        tools = overrides.get("tools", config.tools)
        chat_tools = [{"type": "function", "function": {
            "name": t["name"], "description": t.get("description", ""),
            "parameters": t.get("parameters") or {"type": "object", "properties": {}}}}
            for t in tools]  # fmt: skip
        tool_choice = overrides.get("tool_choice", config.tool_choice)
        if isinstance(tool_choice, dict) and tool_choice.get("name"):
            tool_choice = {"type": "function", "function": {"name": tool_choice["name"]}}
        messages = conversation.chat_messages(instructions)
        plan = ResponsePlan(
            messages=messages, audio=audio, voice=voice,
            output_format=config.output_format.as_ga(), beta_format=config.output_format.name,
            tools=chat_tools, tool_choice=tool_choice,
            temperature=overrides.get("temperature", config.temperature if session.beta else None),
            max_output_tokens=overrides.get("max_output_tokens")
            or overrides.get("max_response_output_tokens")
            or config.max_output_tokens,
            metadata=overrides.get("metadata"),
            in_conversation=overrides.get("conversation") != "none",
            acknowledgement=self.settings.chat.acknowledgement,
        )  # fmt: skip
        if not audio:
            return plan, None
        last_user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        style = with_words_heard(self.speech.styles, SpeechStyle(speed=config.speed), instructions)
        style = with_words_heard(self.speech.styles, style, last_user or "")
        route = self.speech.route_voice(self.settings.realtime.speech_model, voice, style)
        speech_plan = await self.speech.plan(route, style)
        dialect = style.dialect
        if dialect is not None and dialect.acknowledgement:
            plan.acknowledgement = dialect.acknowledgement
        encoder = OutputAudio(config.output_format, speech_plan.sample_rate)
        return plan, ReplySpeaker(speech_plan, encoder, admitted=True)

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
