"""Text to speech: validate, resolve model and voice, stream encoded audio or SSE events."""

from __future__ import annotations

import base64
import math
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import replace

import msgspec
import numpy as np

from stepaudio_api.audio.encode import AUDIO_FORMATS, DEFAULT_OUTPUT_RATE, AudioEncoder
from stepaudio_api.audio.reference_clip import load_flac
from stepaudio_api.audio.resample import StreamResampler
from stepaudio_api.engines.base import SynthesisOptions, Synthesizer, VoiceReference
from stepaudio_api.engines.codec import CodecPrompt
from stepaudio_api.errors import InvalidRequest
from stepaudio_api.extensions.dialects import DialectRegistry
from stepaudio_api.extensions.voices import VoicePackRegistry
from stepaudio_api.protocol.speech import (
    SpeechAudioDelta,
    SpeechAudioDone,
    SpeechRequest,
    SpeechUsage,
    SpokenVoice,
)
from stepaudio_api.protocol.sse import sse_event
from stepaudio_api.serving.byte_stream import ByteStream, sse_error_event
from stepaudio_api.serving.metering import RequestMeter
from stepaudio_api.serving.models import ModelCatalog
from stepaudio_api.serving.speech_plan import SpeechPlan
from stepaudio_api.serving.speech_routing import SpeechRoute, SpeechRouter
from stepaudio_api.serving.speech_scripts import ScriptRouter, SpeechPart
from stepaudio_api.serving.speech_style import SpeechStyle, StyleResolver
from stepaudio_api.serving.speech_text import speakable
from stepaudio_api.settings import Settings
from stepaudio_api.store.codec_prompts import CodecPromptStore
from stepaudio_api.store.voices import VOICE_ID, VoiceProfileStore

OUTPUT_TOKENS_PER_SECOND = 25
"""Speech usage counts output audio in tokens at Step-Audio's semantic codebook rate (25 Hz)."""
VOICE_HEADER = "X-Stepaudio-Voice"
"""Ours: ``model/voice`` of each voice that spoke, comma-separated in order of first use."""


class SpeechServing:
    def __init__(
        self,
        settings: Settings,
        catalog: ModelCatalog,
        profiles: VoiceProfileStore,
        dialects: DialectRegistry | None = None,
        voice_packs: VoicePackRegistry | None = None,
        codec_prompts: CodecPromptStore | None = None,
    ) -> None:
        self.settings = settings
        self.codec_prompts = codec_prompts
        self.catalog = catalog
        self.profiles = profiles
        self.voice_packs = voice_packs if voice_packs is not None else VoicePackRegistry()
        self.dialects = dialects if dialects is not None else DialectRegistry()
        self.styles = StyleResolver(self.dialects)
        self.router = SpeechRouter(catalog, self.dialects)
        self.scripts = ScriptRouter(self.router, self.dialects)

    def resolve_style(self, request: SpeechRequest) -> SpeechStyle:
        """The request's style: its extension fields, then what its instructions say."""
        return self.styles.resolve(
            instructions=request.instructions,
            emotion=request.emotion,
            emotion_intensity=request.emotion_intensity,
            dialect=request.dialect,
            style=request.style,
            speed=None if request.speed is msgspec.UNSET else request.speed,
        )

    def resolve_voice(self, engine: Synthesizer, name: str) -> str | None:
        """The engine's own voice that a name, a voice pack's voice or an OpenAI alias stands
        for; None when it is none of these (it may be a cloned voice, looked up in the store
        once streaming starts)."""
        own = {v.name for v in engine.voices}
        if name in own:
            return name
        pack = self.voice_packs.voices.get(name)
        if pack is not None and pack.engine_type == engine.type and pack.preset in own:
            return pack.preset
        resolved = self.settings.speech.voice_aliases.get(name)
        return resolved if resolved in own else None

    async def resolve_cloned_voice(
        self, engine: Synthesizer, model_id: str, name: str
    ) -> tuple[str, VoiceReference]:
        """A voice profile by id or name, as the engine's cloning prompt; a 400 that says
        what to do when there is none or the model cannot clone."""
        if VOICE_ID.fullmatch(name):
            profile = await self.profiles.get(name)
        else:
            profile = await self.profiles.get_by_name(name)
        if profile is None:
            choices = sorted(
                {v.name for v in engine.voices} | set(self.settings.speech.voice_aliases)
            )
            raise InvalidRequest(
                f"Unknown voice '{name}'. Voices this model can speak: {', '.join(choices)}"
                + (", or a cloned voice's name or id" if engine.clones_voices else ""),
                param="voice",
                code="voice_not_found",
            )
        if not engine.clones_voices:
            can = self.catalog.cloning_models()
            where = (
                f"Models that can: {', '.join(can)}"
                if can
                else "No model configured on this server can: the embedded CPU engines do not "
                "clone voices; the Step-Audio TTS engine (GPU, on SGLang) does"
            )
            raise InvalidRequest(
                f"The voice '{profile.name}' ({profile.id}) is a cloned voice, and the model "
                f"'{model_id}' cannot speak cloned voices. {where}.",
                param="voice",
                code="voice_cloning_unsupported",
            )
        samples, rate = await engine.pool.run(load_flac, profile.audio)
        prompts: dict[str, CodecPrompt] = {}
        if self.codec_prompts is not None:
            for codec in await self.codec_prompts.codecs(profile.id):
                prompt = await self.codec_prompts.get(profile.id, codec, profile.transcript)
                if prompt is not None:
                    prompts[codec] = prompt
        return profile.id, VoiceReference(samples, rate, profile.transcript, prompts)

    def route_voice(self, model_name: str, voice_name: str, style: SpeechStyle) -> SpeechRoute:
        """The model, engine and voice that speak ``voice_name`` in ``style``: a dialect the
        model cannot speak goes to the dialect's fallback engine. Raises the 4xx that says
        what to ask for instead."""
        model = self.catalog.resolve(model_name, "speech")
        engine = model.engine
        assert isinstance(engine, Synthesizer)
        builtin = self.resolve_voice(engine, voice_name)
        return self.router.route(model, builtin or voice_name, builtin is not None, style)

    async def plan(self, route: SpeechRoute, style: SpeechStyle) -> SpeechPlan:
        """The plan for a routed voice; a cloned voice is looked up in the store here (a 400
        when it is unknown or the engine cannot clone)."""
        options = SynthesisOptions(voice=route.voice, speed=style.speed, style=style)
        if not route.builtin:
            voice, reference = await self.resolve_cloned_voice(
                route.engine, route.model.id, route.voice
            )
            options = replace(options, voice=voice, reference=reference)
        return SpeechPlan(route.model.id, route.engine, options, style)

    def create_speech(
        self, request: SpeechRequest, meter: RequestMeter | None = None
    ) -> ByteStream:
        text = speakable(request.input).strip()
        if not text:
            said = "is empty" if not request.input.strip() else "has nothing speakable in it"
            raise InvalidRequest(f"'input' {said}: send the text to speak", param="input",
                                 code="empty_input")  # fmt: skip
        limit = self.settings.speech.max_input_characters
        if len(request.input) > limit:
            raise InvalidRequest(
                f"'input' is {len(request.input)} characters long; the maximum is {limit}",
                param="input",
                code="string_above_max_length",
            )
        style = self.resolve_style(request)
        name = request.voice if isinstance(request.voice, str) else request.voice.id
        route = self.route_voice(request.model, name, style)
        parts = self.scripts.parts(route, text, style)
        audio_format = AUDIO_FORMATS[request.response_format]
        sample_rate = DEFAULT_OUTPUT_RATE if request.sample_rate is None else request.sample_rate
        if sample_rate not in audio_format.sample_rates:
            rates = ", ".join(str(r) for r in audio_format.sample_rates)
            raise InvalidRequest(
                f"sample_rate {sample_rate} is not available for {audio_format.name}; "
                f"choose one of {rates}",
                param="sample_rate",
            )
        audio = self._encoded_audio(parts, request.response_format, sample_rate, meter)
        voices = list(dict.fromkeys(_spoken_voice(part) for part in parts))
        headers = {VOICE_HEADER: ", ".join(f"{v.model}/{v.voice}" for v in voices)}
        if request.stream_format == "sse":
            return ByteStream("text/event-stream", self._sse(audio, len(text), voices),
                              failure=sse_error_event, headers=headers)  # fmt: skip
        return ByteStream(audio_format.content_type, self._bytes_only(audio), headers=headers)

    async def _encoded_audio(
        self,
        parts: list[SpeechPart],
        response_format: str,
        sample_rate: int,
        meter: RequestMeter | None,
    ) -> AsyncIterator[tuple[bytes, float]]:
        """Encoded bytes, each with the seconds of audio made so far; the parts one after the
        other (at the output rate when their engines' rates differ, so each is resampled
        once). What is charged is the input as sent (its characters), not as normalised."""
        # before the first byte, so a refusal is a 4xx
        plans = [await self.plan(part.route, part.style) for part in parts]
        characters = sum(len(part.text) for part in parts)
        if meter is not None:
            await meter.admit(plans[0].model_id, characters=characters)
            meter.measured.input_characters = meter.measured.input_tokens = characters
        rates = {plan.sample_rate for plan in plans}
        rate = rates.pop() if len(rates) == 1 else sample_rate
        async with AsyncExitStack() as reserved:
            for engine in dict.fromkeys(plan.engine for plan in plans):
                await reserved.enter_async_context(engine.reserve())
            encoder = AudioEncoder(response_format, rate, sample_rate)
            produced = 0

            def encode(samples: np.ndarray) -> bytes:
                nonlocal produced
                produced += len(samples)
                if meter is not None:
                    meter.measured.audio_seconds_out = produced / rate
                    meter.measured.output_tokens = math.ceil(
                        produced / rate * OUTPUT_TOKENS_PER_SECOND
                    )
                return encoder.encode(samples)

            for plan, part in zip(plans, parts, strict=True):
                resampler = StreamResampler(plan.sample_rate, rate)
                async for samples in plan.samples(plan.normalize(part.text)):
                    if data := encode(resampler.feed(samples)):
                        yield data, produced / rate
                if data := encode(np.concatenate([resampler.feed(plan.finish()),
                                                  resampler.flush()])):  # fmt: skip
                    yield data, produced / rate
            if data := encoder.finish():
                yield data, produced / rate

    @staticmethod
    async def _bytes_only(audio: AsyncIterator[tuple[bytes, float]]) -> AsyncIterator[bytes]:
        async for data, _seconds in audio:
            yield data

    @staticmethod
    async def _sse(
        audio: AsyncIterator[tuple[bytes, float]], characters: int, voices: list[SpokenVoice]
    ) -> AsyncIterator[bytes]:
        seconds = 0.0
        async for data, seconds in audio:  # noqa: B007 - the last value is the total
            delta = SpeechAudioDelta(audio=base64.b64encode(data).decode())
            yield sse_event(delta)
        output_tokens = math.ceil(seconds * OUTPUT_TOKENS_PER_SECOND)
        usage = SpeechUsage(
            input_tokens=characters,
            output_tokens=output_tokens,
            total_tokens=characters + output_tokens,
            input_characters=characters,
            output_audio_seconds=round(seconds, 3),
        )
        yield sse_event(SpeechAudioDone(usage=usage, voices=voices))


def _spoken_voice(part: SpeechPart) -> SpokenVoice:
    route = part.route
    info = next((v for v in route.engine.voices if v.name == route.voice), None)
    language = info.language.replace("_", "-") if route.builtin and info is not None else ""
    return SpokenVoice(model=route.model.id, voice=route.voice, language=language)
