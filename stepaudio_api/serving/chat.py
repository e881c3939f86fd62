"""Chat completions: an upstream thinks; we hear the audio it is sent and speak its answer."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing, contextmanager
from dataclasses import dataclass
from typing import Any

from stepaudio_api.audio.encode import wav_with_sizes
from stepaudio_api.engines.chat import ChatEngine
from stepaudio_api.errors import APIError, InvalidRequest
from stepaudio_api.extensions.tools import Tool, ToolRegistry
from stepaudio_api.protocol.chat import OUR_FIELDS, ChatAudioOptions, ChatCompletionRequest
from stepaudio_api.serving.byte_stream import ByteStream, error_detail
from stepaudio_api.serving.chat_context import trim_to_budget
from stepaudio_api.serving.chat_messages import ConversationPreparer, PreparedConversation
from stepaudio_api.serving.chat_request import (
    explicit_style,
    reply_style,
    spoken_reply_options,
    tool_policy,
)
from stepaudio_api.serving.chat_responses import (
    SSE_DONE,
    ReplyShape,
    sse_json,
    tool_call_deltas,
    usage_of,
)
from stepaudio_api.serving.chat_speech import ReplySpeaker, chat_encoder
from stepaudio_api.serving.chat_turn import (
    ChatTurn,
    ClientToolCalls,
    Finished,
    TextDelta,
    ToolPolicy,
    ToolsRunning,
)
from stepaudio_api.serving.metering import RequestMeter
from stepaudio_api.serving.models import ModelCatalog, ServedModel
from stepaudio_api.serving.reply_voices import ReplyVoices
from stepaudio_api.serving.speech import SpeechServing
from stepaudio_api.serving.speech_plan import SpeechPlan
from stepaudio_api.serving.speech_routing import SpeechRoute
from stepaudio_api.serving.speech_style import SpeechStyle
from stepaudio_api.settings import Settings
from stepaudio_api.store.api_keys import Caller
from stepaudio_api.store.chat_audio import ChatAudioStore, new_audio_id
from stepaudio_api.store.tables import utc_now


@dataclass(slots=True)
class _Job:
    request: ChatCompletionRequest
    raw: dict[str, Any]
    model: ServedModel
    engine: ChatEngine
    caller: Caller
    meter: RequestMeter | None
    shape: ReplyShape
    policy: ToolPolicy
    client_tools: list[dict[str, Any]]
    audio: ChatAudioOptions | None
    """Set when the reply is spoken."""
    voice: str = ""


class ChatServing:
    def __init__(
        self,
        settings: Settings,
        catalog: ModelCatalog,
        speech: SpeechServing,
        tools: ToolRegistry,
        replies: ChatAudioStore,
    ) -> None:
        self.settings = settings.chat
        self.catalog = catalog
        self.speech = speech
        self.tools = tools
        self.replies = replies
        self.preparer = ConversationPreparer(catalog, replies, self.settings.transcription_model)

    def create_completion(
        self,
        request: ChatCompletionRequest,
        raw: dict[str, Any],
        caller: Caller,
        meter: RequestMeter | None = None,
    ) -> ByteStream:
        """Checks what can be refused at once, then streams (SSE) or answers in one piece."""
        model = self.catalog.resolve(request.model, "chat")
        assert isinstance(model.engine, ChatEngine)
        if (request.n or 1) != 1:
            raise InvalidRequest("Only n=1 is supported", param="n", code="unsupported_value")
        audio = spoken_reply_options(request)
        voice = ""
        if audio is not None:
            voice = audio.voice if isinstance(audio.voice, str) else audio.voice.id
            # a dialect no engine speaks is a 400 now (an unknown voice once its plan is made)
            self._route(voice, explicit_style(self.speech.styles, audio))
        policy = tool_policy(self.settings, self.tools, request, audio is not None)
        job = _Job(
            request, raw, model, model.engine, caller, meter, ReplyShape(request.model),
            policy, list(raw.get("tools") or []), audio, voice,
        )  # fmt: skip
        if request.stream:
            return ByteStream("text/event-stream", self._stream(job), failure=stream_error)
        return ByteStream("application/json", self._whole(job), whole=True)

    def _route(self, voice: str, style: SpeechStyle) -> SpeechRoute:
        with _as_audio_voice():
            return self.speech.route_voice(self.settings.speech_model, voice, style)

    async def _plan(self, voice: str, style: SpeechStyle) -> SpeechPlan:
        route = self._route(voice, style)
        with _as_audio_voice():
            return await self.speech.plan(route, style)

    async def _begin(
        self, job: _Job
    ) -> tuple[dict[str, Any], PreparedConversation, ReplySpeaker | None]:
        """Hear the input audio (charged first), prepare and trim the conversation, and plan
        the voice that speaks the reply."""
        plan = None
        if job.audio is not None:  # a voice that cannot be spoken is refused first
            plan = await self._plan(job.voice, explicit_style(self.speech.styles, job.audio))
        clips = self.preparer.clips(job.request.messages)
        hears = job.engine.hears_audio
        seconds = await self.preparer.decode(clips, job.engine.pool if hears else None)
        if job.meter is not None:
            await job.meter.admit(job.model.id, audio_seconds=seconds)
            job.meter.measured.audio_seconds_in = seconds
        if not hears:
            await self.preparer.transcribe(clips)
        prepared = await self.preparer.prepare(
            job.request.messages, job.raw["messages"], clips, job.caller.key_id, keep_audio=hears
        )
        prepared.audio_seconds_in = seconds
        tools = job.client_tools + [t.openai_schema() for t in job.policy.server_tools.values()]
        reserve = self._reply_tokens(job)
        messages, _ = trim_to_budget(prepared.messages, job.engine.context_tokens, reserve, tools)
        body = {k: v for k, v in job.raw.items() if k not in OUR_FIELDS and k != "tools"}
        body["messages"] = messages
        if tools:
            body["tools"] = tools
        speaker = None
        if plan is not None and job.audio is not None:
            style = reply_style(self.speech.styles, job.audio, prepared.last_user_text)
            if style != plan.style:  # the user asked for it ("in Cantonese", "cheerfully")
                plan = await self._plan(job.voice, style)
            voices = ReplyVoices(self.speech, self._route(job.voice, plan.style), plan.style)
            speaker = ReplySpeaker(plan, chat_encoder(plan, job.audio.format), voices=voices)
        return body, prepared, speaker

    def _reply_tokens(self, job: _Job) -> int:
        """The tokens kept for the answer: the request's limit, which must fit the window."""
        request, window = job.request, job.engine.context_tokens
        for param, asked in (("max_completion_tokens", request.max_completion_tokens),
                             ("max_tokens", request.max_tokens)):  # fmt: skip
            if asked is not None:
                if asked >= window:
                    raise InvalidRequest(
                        f"{param} is {asked}, but this model's context window is {window} "
                        f"tokens, the question included; ask for fewer than {window}",
                        param=param, code="invalid_value",
                    )  # fmt: skip
                return asked
        return self.settings.reply_tokens

    def _turn(self, job: _Job, body: dict[str, Any]) -> AsyncIterator[Any]:
        return ChatTurn(job.engine, self.tools, job.policy).run(body)

    def acknowledgement(self, speaker: ReplySpeaker, tools: list[Tool]) -> str:
        dialect = speaker.plan.style.dialect
        if dialect is not None and dialect.acknowledgement:
            return dialect.acknowledgement
        said = next((t.acknowledgement for t in tools if t.acknowledgement), None)
        return said or self.settings.acknowledgement

    async def _keep(self, job: _Job, speaker: ReplySpeaker, audio_id: str) -> int:
        expires = utc_now() + dt.timedelta(seconds=self.settings.audio_retention_seconds)
        await self.replies.save(
            audio_id, job.caller.key_id, "".join(speaker.transcript).strip(), job.voice,
            round(speaker.seconds, 3), expires,
        )  # fmt: skip
        return int(expires.timestamp())

    def _measure(self, job: _Job, finished: Finished, prepared: PreparedConversation,
                 speaker: ReplySpeaker | None) -> dict[str, Any]:  # fmt: skip
        seconds_out = speaker.seconds if speaker is not None else 0.0
        if job.meter is not None:
            measured = job.meter.measured
            measured.input_tokens = finished.usage.prompt_tokens
            measured.output_tokens = finished.usage.completion_tokens
            measured.audio_seconds_out = seconds_out
        job.shape.system_fingerprint = finished.system_fingerprint
        return usage_of(finished.usage, prepared.audio_seconds_in, seconds_out)

    async def _stream(self, job: _Job) -> AsyncIterator[bytes]:
        body, prepared, speaker = await self._begin(job)
        shape, audio_id = job.shape, new_audio_id()
        started = False

        def audio_chunk(data: bytes) -> bytes:
            return shape.chunk({"audio": {"id": audio_id, "data": base64.b64encode(data).decode()}})

        try:
            async with aclosing(self._turn(job, body)) as events:  # type: ignore[type-var]
                async for event in events:
                    if not started:  # only now: upstream failures before it are HTTP errors
                        started = True
                        yield shape.chunk({"role": "assistant", "content": None if speaker else "",
                                           "refusal": None})  # fmt: skip
                    if isinstance(event, TextDelta):
                        if speaker is None:
                            yield shape.chunk({"content": event.text})
                            continue
                        yield shape.chunk({"audio": {"id": audio_id, "transcript": event.text}})
                        async for data in speaker.text(event.text):
                            yield audio_chunk(data)
                    elif isinstance(event, ToolsRunning) and speaker is not None:
                        phrase = self.acknowledgement(speaker, event.tools)
                        yield shape.chunk({"audio": {"id": audio_id, "transcript": phrase + " "}})
                        async for data in speaker.say(phrase):
                            yield audio_chunk(data)
                    elif isinstance(event, ClientToolCalls):
                        yield shape.chunk({"tool_calls": tool_call_deltas(event.calls)})
                    elif isinstance(event, Finished):
                        if speaker is not None and speaker.transcript:
                            async for data in speaker.finish():
                                yield audio_chunk(data)
                            expires_at = await self._keep(job, speaker, audio_id)
                            yield shape.chunk({"audio": {"id": audio_id, "expires_at": expires_at}})
                        usage = self._measure(job, event, prepared, speaker)
                        yield shape.chunk({}, finish_reason=event.reason)
                        options = job.request.stream_options
                        if options is not None and options.include_usage:
                            yield shape.usage_chunk(usage)
        except APIError as exc:
            if not started:
                raise
            # the status line has gone: say it in the stream, as OpenAI does
            if job.meter is not None:
                job.meter.outcome = "failed"
            yield stream_error(exc)
            return
        yield SSE_DONE

    async def _whole(self, job: _Job) -> AsyncIterator[bytes]:
        body, prepared, speaker = await self._begin(job)
        text: list[str] = []
        audio: list[bytes] = []
        calls: list[dict[str, Any]] = []
        finished: Finished | None = None
        async with aclosing(self._turn(job, body)) as events:  # type: ignore[type-var]
            async for event in events:
                if isinstance(event, TextDelta):
                    text.append(event.text)
                    if speaker is not None:
                        audio += [data async for data in speaker.text(event.text)]
                elif isinstance(event, ClientToolCalls):
                    calls = event.calls
                elif isinstance(event, Finished):
                    finished = event
        assert finished is not None
        message: dict[str, Any] = {
            "role": "assistant", "content": "".join(text) if speaker is None else None,
            "refusal": None, "annotations": [], "audio": None,
        }  # fmt: skip
        if speaker is not None and speaker.transcript:
            audio += [data async for data in speaker.finish()]
            audio_id, data = new_audio_id(), b"".join(audio)
            if job.audio is not None and job.audio.format == "wav":
                data = wav_with_sizes(data)
            expires_at = await self._keep(job, speaker, audio_id)
            message["audio"] = {
                "id": audio_id, "data": base64.b64encode(data).decode(),
                "expires_at": expires_at, "transcript": "".join(speaker.transcript).strip(),
            }  # fmt: skip
        if calls:
            message["tool_calls"] = calls
        usage = self._measure(job, finished, prepared, speaker)
        yield job.shape.completion(message, finished.reason, usage)


def stream_error(exc: APIError) -> bytes:
    """A chat stream's failure once it has begun: ``{"error": ...}``, then [DONE]."""
    return sse_json({"error": error_detail(exc)}) + SSE_DONE


@contextmanager
def _as_audio_voice() -> Iterator[None]:
    """The speech layer names its `voice` param; in chat the same value is `audio.voice`."""
    try:
        yield
    except APIError as exc:
        if exc.param == "voice":
            exc.param = "audio.voice"
        raise
