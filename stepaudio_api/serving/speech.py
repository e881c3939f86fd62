"""Text to speech: validate, resolve model and voice, stream encoded audio or SSE events."""

from __future__ import annotations

import base64
import math
from collections.abc import AsyncIterator
from dataclasses import replace

import msgspec
import numpy as np

from stepaudio_api.audio.encode import AUDIO_FORMATS, DEFAULT_OUTPUT_RATE, AudioEncoder
from stepaudio_api.audio.prosody import NEUTRAL, ProsodyShaper, prosody_for
from stepaudio_api.audio.reference_clip import load_flac
from stepaudio_api.engines.base import SynthesisOptions, Synthesizer, VoiceReference
from stepaudio_api.errors import InvalidRequest
from stepaudio_api.extensions.dialects import DialectRegistry
from stepaudio_api.extensions.voices import VoicePackRegistry
from stepaudio_api.protocol.speech import (
    SpeechAudioDelta,
    SpeechAudioDone,
    SpeechRequest,
    SpeechUsage,
)
from stepaudio_api.protocol.sse import sse_event
from stepaudio_api.serving.byte_stream import ByteStream
from stepaudio_api.serving.metering import RequestMeter
from stepaudio_api.serving.models import ModelCatalog
from stepaudio_api.serving.speech_routing import SpeechRouter
from stepaudio_api.serving.speech_style import SpeechStyle, StyleResolver
from stepaudio_api.serving.text_chunks import split_for_speech
from stepaudio_api.settings import Settings
from stepaudio_api.store.voices import VOICE_ID, VoiceProfileStore

OUTPUT_TOKENS_PER_SECOND = 25
"""Speech usage counts output audio in tokens at Step-Audio's semantic codebook rate (25 Hz)."""


class SpeechServing:
    def __init__(
        self,
        settings: Settings,
        catalog: ModelCatalog,
        profiles: VoiceProfileStore,
        dialects: DialectRegistry | None = None,
        voice_packs: VoicePackRegistry | None = None,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.profiles = profiles
        self.voice_packs = voice_packs if voice_packs is not None else VoicePackRegistry()
        self.dialects = dialects if dialects is not None else DialectRegistry()
        self.styles = StyleResolver(self.dialects)
        self.router = SpeechRouter(catalog, self.dialects)

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
        return profile.id, VoiceReference(samples, rate, profile.transcript)

    def create_speech(
        self, request: SpeechRequest, meter: RequestMeter | None = None
    ) -> ByteStream:
        text = request.input.strip()
        if not text:
            raise InvalidRequest("'input' must not be empty", param="input", code="empty_input")
        limit = self.settings.speech.max_input_characters
        if len(request.input) > limit:
            raise InvalidRequest(
                f"'input' is {len(request.input)} characters long; the maximum is {limit}",
                param="input",
                code="string_above_max_length",
            )
        model = self.catalog.resolve(request.model, "speech")
        engine = model.engine
        assert isinstance(engine, Synthesizer)
        style = self.resolve_style(request)
        name = request.voice if isinstance(request.voice, str) else request.voice.id
        builtin = self.resolve_voice(engine, name)
        route = self.router.route(model, builtin or name, builtin is not None, style)
        model, engine = route.model, route.engine
        spoken = text if style.dialect is None else style.dialect.normalize(text) or text
        audio_format = AUDIO_FORMATS[request.response_format]
        sample_rate = request.sample_rate or DEFAULT_OUTPUT_RATE
        if sample_rate not in audio_format.sample_rates:
            rates = ", ".join(str(r) for r in audio_format.sample_rates)
            raise InvalidRequest(
                f"sample_rate {sample_rate} is not available for {audio_format.name}; "
                f"choose one of {rates}",
                param="sample_rate",
            )
        options = SynthesisOptions(voice=route.voice, speed=style.speed, style=style)
        audio = self._encoded_audio(
            engine,
            spoken,
            options,
            request.response_format,
            sample_rate,
            model.id,
            meter,
            characters=len(text),
            cloned=not route.builtin,
        )
        if request.stream_format == "sse":
            return ByteStream("text/event-stream", self._sse(audio, len(text)))
        return ByteStream(audio_format.content_type, self._bytes_only(audio))

    async def _encoded_audio(
        self,
        engine: Synthesizer,
        text: str,
        options: SynthesisOptions,
        response_format: str,
        sample_rate: int,
        model_id: str,
        meter: RequestMeter | None,
        *,
        characters: int,
        cloned: bool = False,
    ) -> AsyncIterator[tuple[bytes, float]]:
        """Encoded bytes, each with the seconds of audio made so far. Engines without native
        speed control speak at 1.0 and the audio is time-stretched (pitch kept); an emotion
        the engine cannot act is approximated by pitch, rate and energy. ``characters`` is
        what is charged: the input as sent, not as normalised."""
        if cloned:  # before the first byte, so a refusal is still a 4xx
            voice, reference = await self.resolve_cloned_voice(engine, model_id, options.voice)
            options = replace(options, voice=voice, reference=reference)
        if meter is not None:
            await meter.admit(model_id, characters=characters)
            meter.measured.input_characters = meter.measured.input_tokens = characters
        shaper, options = _shaping(engine, options)
        pause_scale = 1.0 / options.speed
        async with engine.reserve():
            encoder = AudioEncoder(response_format, engine.sample_rate, sample_rate)
            produced = 0

            def encode(samples: np.ndarray) -> bytes:
                nonlocal produced
                if shaper is not None:
                    samples = shaper.process(samples)
                produced += len(samples)
                if meter is not None:
                    meter.measured.audio_seconds_out = produced / engine.sample_rate
                    meter.measured.output_tokens = math.ceil(
                        produced / engine.sample_rate * OUTPUT_TOKENS_PER_SECOND
                    )
                return encoder.encode(samples)

            for chunk in split_for_speech(text):
                async for pcm in engine.synthesize(chunk.text, options):
                    if data := encode(pcm.samples):
                        yield data, produced / engine.sample_rate
                if chunk.pause_after:
                    pause = np.zeros(int(engine.sample_rate * chunk.pause_after * pause_scale))
                    if data := encode(pause):
                        yield data, produced / engine.sample_rate
            if shaper is not None:
                tail = shaper.finish()
                produced += len(tail)
                if meter is not None:
                    meter.measured.audio_seconds_out = produced / engine.sample_rate
                data = encoder.encode(tail) + encoder.finish()
            else:
                data = encoder.finish()
            if data:
                yield data, produced / engine.sample_rate

    @staticmethod
    async def _bytes_only(audio: AsyncIterator[tuple[bytes, float]]) -> AsyncIterator[bytes]:
        async for data, _seconds in audio:
            yield data

    @staticmethod
    async def _sse(
        audio: AsyncIterator[tuple[bytes, float]], characters: int
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
        yield sse_event(SpeechAudioDone(usage=usage))


def _shaping(
    engine: Synthesizer, options: SynthesisOptions
) -> tuple[ProsodyShaper | None, SynthesisOptions]:
    """The filter serving runs the engine's audio through (None when it has nothing to do),
    and the options the engine is then asked for: speed it does not do natively becomes a
    time-stretch, an emotion it does not act becomes pitch, rate and energy."""
    style = options.style
    prosody = NEUTRAL
    if style is not None and style.emotion is not None and style.emotion not in engine.emotions:
        prosody = prosody_for(style.emotion, style.intensity)
    tempo = 1.0
    if engine.native_speed:
        options = replace(options, speed=options.speed * prosody.rate)
        prosody = replace(prosody, rate=1.0)
    else:
        tempo, options = options.speed, replace(options, speed=1.0)
    if tempo == 1.0 and prosody == NEUTRAL:
        return None, options
    return ProsodyShaper(engine.sample_rate, tempo, prosody), options
