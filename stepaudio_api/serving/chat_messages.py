"""A chat request's messages made ready for a text upstream: spoken parts become their
transcripts, earlier spoken replies their stored transcripts, roles the upstream knows."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from stepaudio_api.audio.decode import AudioDecodeError, DecodedAudio, decode_audio
from stepaudio_api.engines.base import Recognizer, TranscriptionOptions
from stepaudio_api.engines.worker_pool import WorkerPool
from stepaudio_api.errors import InvalidRequest
from stepaudio_api.protocol.chat import (
    AssistantMessage,
    DeveloperMessage,
    InputAudioPart,
    Message,
    SystemMessage,
    TextPart,
    ToolMessage,
    UserMessage,
)
from stepaudio_api.serving.hearing import hear
from stepaudio_api.serving.models import ModelCatalog
from stepaudio_api.serving.transcript_formats import full_text
from stepaudio_api.serving.transcription import WHISPER_SAMPLE_RATE
from stepaudio_api.store.chat_audio import ChatAudioStore


@dataclass(slots=True)
class PreparedConversation:
    messages: list[dict[str, Any]]
    """OpenAI chat messages with text content only where audio was."""
    audio_seconds_in: float = 0.0
    last_user_text: str = ""
    """What the user said last (typed or spoken): style words in it shape a spoken reply."""
    heard: list[str] = field(default_factory=list)
    """Transcripts of this request's input_audio parts, in order."""


@dataclass(slots=True)
class _Clip:
    where: str
    data: str
    decoded: DecodedAudio | None = None
    transcript: str | None = None


class TranscriptCache:
    """Transcripts of audio already heard, by content hash: a conversation sends its earlier
    spoken turns again with every request, and they are recognised only once."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._items: OrderedDict[str, str] = OrderedDict()

    @staticmethod
    def key(data: str) -> str:
        return hashlib.sha256(data.encode()).hexdigest()

    def get(self, data: str) -> str | None:
        key = self.key(data)
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        return None

    def put(self, data: str, transcript: str) -> None:
        self._items[self.key(data)] = transcript
        self._items.move_to_end(self.key(data))
        while len(self._items) > self.size:
            self._items.popitem(last=False)


def _text_of(content: str | list[Any] | None) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(p.text if isinstance(p, TextPart) else p.refusal for p in content)


class ConversationPreparer:
    def __init__(
        self, catalog: ModelCatalog, replies: ChatAudioStore, transcription_model: str
    ) -> None:
        self.catalog = catalog
        self.replies = replies
        self.transcription_model = transcription_model
        self.cache = TranscriptCache()

    def clips(self, messages: list[Message]) -> list[_Clip]:
        """Every input_audio part, with where it is (for error messages)."""
        found = []
        for i, message in enumerate(messages):
            if isinstance(message, UserMessage) and isinstance(message.content, list):
                for j, part in enumerate(message.content):
                    if isinstance(part, InputAudioPart):
                        where = f"messages[{i}].content[{j}].input_audio"
                        found.append(_Clip(where, part.input_audio.data))
        return found

    async def decode(self, clips: list[_Clip], pool: WorkerPool | None = None) -> float:
        """Decode every clip not heard before (in ``pool``, else the recognizer's); returns
        the seconds of all input audio."""
        if not clips:
            return 0.0
        pool = pool or self._recognizer().pool
        seconds = 0.0
        for clip in clips:
            try:
                audio = base64.b64decode(clip.data, validate=True)
            except (binascii.Error, ValueError):
                raise InvalidRequest(
                    f"{clip.where}.data is not valid base64", param=f"{clip.where}.data"
                ) from None
            try:
                clip.decoded = await pool.run(decode_audio, audio, WHISPER_SAMPLE_RATE)
            except AudioDecodeError as exc:
                raise AudioDecodeError(f"{clip.where}: {exc.message}", param=clip.where) from None
            seconds += clip.decoded.duration
            clip.transcript = self.cache.get(clip.data)
        return seconds

    async def transcribe(self, clips: list[_Clip]) -> None:
        pending = [c for c in clips if c.transcript is None]
        if not pending:
            return
        recognizer = self._recognizer()
        async with recognizer.reserve():
            for clip in pending:
                assert clip.decoded is not None
                stream = await hear(recognizer, clip.decoded.samples, TranscriptionOptions())
                clip.transcript = full_text([s async for s in stream.segments])
                self.cache.put(clip.data, clip.transcript)

    def _recognizer(self) -> Recognizer:
        engine = self.catalog.resolve(self.transcription_model, "transcription").engine
        assert isinstance(engine, Recognizer)
        return engine

    async def prepare(
        self, messages: list[Message], raw: list[dict[str, Any]], clips: list[_Clip],
        key_id: str | None, keep_audio: bool = False,
    ) -> PreparedConversation:  # fmt: skip
        """The messages as the chat engine takes them; ``keep_audio`` leaves each input
        audio part as its decoded samples (for an engine that hears audio)."""
        heard = iter(
            {"type": "input_audio", "input_audio": {"samples": clip.decoded.samples,
             "sample_rate": WHISPER_SAMPLE_RATE, "transcript": clip.transcript}}
            if keep_audio and clip.decoded is not None
            else {"type": "text", "text": clip.transcript or ""}
            for clip in clips
        )  # fmt: skip
        audio_ids = [
            m.audio.id for m in messages if isinstance(m, AssistantMessage) and m.audio is not None
        ]
        transcripts = await self.replies.transcripts(set(audio_ids), key_id)
        prepared = PreparedConversation([], heard=[c.transcript or "" for c in clips])
        for index, (message, original) in enumerate(zip(messages, raw, strict=True)):
            out = {k: v for k, v in original.items() if v is not None}
            if isinstance(message, SystemMessage | DeveloperMessage):
                # upstream chat templates know "system"; OpenAI's "developer" means the same
                out["role"], out["content"] = "system", _text_of(message.content)
            elif isinstance(message, UserMessage):
                out["content"] = self._user_content(message, original, heard)
                prepared.last_user_text = _text_of_parts(out["content"])
            elif isinstance(message, AssistantMessage):
                out.pop("audio", None)
                text = _text_of(message.content)
                if message.audio is not None and not text:
                    if message.audio.id not in transcripts:
                        raise InvalidRequest(
                            f"messages[{index}].audio.id '{message.audio.id}' is not a spoken "
                            "reply of this key that is still kept (replies expire at their "
                            "expires_at); send the reply's transcript as content instead",
                            param=f"messages[{index}].audio.id",
                            code="audio_not_found",
                        )
                    text = transcripts[message.audio.id]
                out["content"] = text or None
            elif isinstance(message, ToolMessage):
                out["content"] = _text_of(message.content)
            prepared.messages.append(out)
        return prepared

    @staticmethod
    def _user_content(message: UserMessage, original: dict[str, Any], heard: Any) -> Any:
        if isinstance(message.content, str):
            return message.content
        parts: list[dict[str, Any]] = []
        for part, raw_part in zip(message.content, original["content"], strict=True):
            if isinstance(part, InputAudioPart):
                parts.append(next(heard))
            else:
                parts.append(raw_part)
        if all(p.get("type") == "text" for p in parts):
            return "\n".join(p["text"] for p in parts if p["text"])
        return parts


def _text_of_parts(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(p.get("text", "") for p in content if p.get("type") == "text")
