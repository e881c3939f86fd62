"""Voices: the engines' built-in voices and cloned voice profiles; create, list, edit, delete."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal

from stepaudio_api.audio.decode import decode_audio
from stepaudio_api.audio.reference_clip import (
    ReferenceClip,
    clip_to_flac,
    clip_to_wav,
    load_flac,
    prepare_reference_clip,
)
from stepaudio_api.engines.base import Recognizer, Synthesizer, TranscriptionOptions
from stepaudio_api.engines.codec import Codec, CodecPrompt
from stepaudio_api.errors import InvalidRequest, NotFound
from stepaudio_api.extensions.voices import PackVoice, VoicePackRegistry
from stepaudio_api.serving.byte_stream import ByteStream
from stepaudio_api.serving.hearing import hear
from stepaudio_api.serving.metering import RequestMeter
from stepaudio_api.serving.models import ModelCatalog
from stepaudio_api.serving.transcript_formats import full_text
from stepaudio_api.serving.transcription import WHISPER_SAMPLE_RATE
from stepaudio_api.serving.voice_checks import check_fields, check_size
from stepaudio_api.serving.voice_preview import PreviewScoring
from stepaudio_api.settings import Settings
from stepaudio_api.store.codec_prompts import CodecPromptStore
from stepaudio_api.store.tables import VoiceProfile
from stepaudio_api.store.voices import EDITABLE, VOICE_ID, VoiceProfileStore, name_taken


@dataclass(frozen=True, slots=True)
class VoiceListing:
    """One voice as the voices API shows it: a built-in voice or a cloned one."""

    id: str
    name: str
    type: Literal["builtin", "audio_sample", "plugin"]
    created_at: int
    models: list[str]
    """The speech models that can speak it."""
    language: str | None = None
    description: str | None = None
    alias_of: str | None = None
    profile: VoiceProfile | None = None
    plugin: str | None = None
    """For a voice from a voice pack: the plugin that registered it."""


logger = logging.getLogger(__name__)


def _not_found(voice_id: str) -> NotFound:
    return NotFound(f"No voice with id '{voice_id}'", param="voice_id", code="voice_not_found")


class VoiceServing:
    def __init__(
        self,
        settings: Settings,
        catalog: ModelCatalog,
        store: VoiceProfileStore,
        packs: VoicePackRegistry | None = None,
        prompts: CodecPromptStore | None = None,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.store = store
        self.packs = packs or VoicePackRegistry()
        self.prompts = prompts

    def builtin_voices(self) -> dict[str, VoiceListing]:
        """Each speech engine's own voices, then the OpenAI names that stand for them."""
        found: dict[str, VoiceListing] = {}
        for model in self.catalog.models:
            if not isinstance(model.engine, Synthesizer):
                continue
            for info in model.engine.voices:
                listing = found.setdefault(
                    info.name,
                    VoiceListing(info.name, info.name, "builtin", model.created, [],
                                 info.language, info.description or None),
                )  # fmt: skip
                listing.models.append(model.id)
        for voice in self.packs.voices.values():
            if voice.name not in found:
                found[voice.name] = VoiceListing(
                    voice.name, voice.name, "plugin", 0, self._pack_models(voice),
                    voice.language or None, voice.description or None, plugin=voice.plugin,
                )  # fmt: skip
        for alias, target in self.settings.speech.voice_aliases.items():
            if target in found and alias not in found:
                own = found[target]
                found[alias] = VoiceListing(
                    alias, alias, "builtin", own.created_at, list(own.models), own.language,
                    f"OpenAI voice name, spoken by {target}", alias_of=target,
                )  # fmt: skip
        return found

    def _pack_models(self, voice: PackVoice) -> list[str]:
        """Speech models whose engine is of the voice's type and has its preset (or clones)."""
        models = []
        for model in self.catalog.models:
            engine = model.engine
            if not isinstance(engine, Synthesizer) or engine.type != voice.engine_type:
                continue
            presets = {v.name for v in engine.voices}
            if voice.preset in presets or (voice.preset is None and engine.clones_voices):
                models.append(model.id)
        return models

    def reserved_names(self) -> set[str]:
        """Names a cloned voice may not take: the built-in voices and OpenAI's voice names
        (those of engines not loaded here too, through the aliases' targets)."""
        aliases = self.settings.speech.voice_aliases
        return set(aliases) | set(aliases.values()) | set(self.builtin_voices())

    def profile_listing(self, profile: VoiceProfile) -> VoiceListing:
        return VoiceListing(
            profile.id, profile.name, "audio_sample", int(profile.created_at.timestamp()),
            self.catalog.cloning_models(), profile.language, profile.description,
            profile=profile,
        )  # fmt: skip

    async def list_voices(self) -> list[VoiceListing]:
        profiles = [self.profile_listing(p) for p in await self.store.list()]
        return [*self.builtin_voices().values(), *profiles]

    async def get_voice(self, voice_id: str) -> VoiceListing:
        """A cloned voice by id, or a built-in voice by its name."""
        if builtin := self.builtin_voices().get(voice_id):
            return builtin
        return self.profile_listing(await self.get_profile(voice_id))

    async def get_profile(self, voice_id: str) -> VoiceProfile:
        profile = await self.store.get(voice_id) if VOICE_ID.fullmatch(voice_id) else None
        if profile is None:
            raise _not_found(voice_id)
        return profile

    async def create_profile(
        self,
        audio: bytes | BinaryIO,
        name: str,
        transcript: str | None = None,
        consent: str | None = None,
        filename: str | None = None,
        denoise: bool | None = None,
        meter: RequestMeter | None = None,
        description: str | None = None,
        language: str | None = None,
    ) -> VoiceProfile:
        """Prepare the upload as a reference clip, transcribe it if no transcript is given,
        and store it; every refusal is a 4xx that names the field. Writing the transcript is
        transcription: metered, and charged to the key's audio quota, before it runs."""
        given = {"name": name, "transcript": (transcript or "").strip() or None,
                 "description": description, "language": language, "consent": consent}  # fmt: skip
        fields = check_fields(given, self.settings, self.reserved_names())
        check_size(audio, self.settings.voices.max_upload_bytes)
        if await self.store.get_by_name(fields["name"]) is not None:  # before the audio work
            raise name_taken(fields["name"])
        recognizer = None if fields["transcript"] else self._recognizer()
        options = self.settings.voices
        denoise = options.denoise if denoise is None else denoise
        pool = self.catalog.registry.pool
        async with pool.reserve():
            clip: ReferenceClip = await pool.run(
                prepare_reference_clip,
                audio,
                sample_rate=options.sample_rate,
                min_speech_seconds=options.min_speech_seconds,
                max_speech_seconds=options.max_speech_seconds,
                loudness_lufs=options.loudness_lufs,
                denoise=denoise,
            )
            flac = await pool.run(clip_to_flac, clip)
            source = "uploaded"
            if meter is not None:
                charged = clip.duration if recognizer is not None else 0.0
                await meter.admit(self.settings.voices.transcription_model, audio_seconds=charged)
                meter.measured.audio_seconds_in = clip.source_duration
            if recognizer is not None:
                fields["transcript"] = await self._recognize(recognizer, flac, fields["language"])
                source = "recognized"
            prompts = await self._codec_prompts(clip, fields["transcript"])
        profile = await self.store.create(
            **fields,
            transcript_source=source,
            audio=flac,
            sample_rate=clip.sample_rate,
            duration_seconds=round(clip.duration, 3),
            speech_seconds=round(clip.speech_seconds, 3),
            loudness_lufs=round(clip.loudness_lufs, 2),
            denoised=denoise,
            source_filename=filename[:255] if filename else None,
            source_duration_seconds=round(clip.source_duration, 3),
            created_by=meter.caller.key_id if meter is not None else None,
        )
        if self.prompts is not None:
            for codec, prompt in prompts.items():
                await self.prompts.put(profile.id, codec, prompt)
        return profile

    def _codecs(self) -> dict[str, Codec]:
        registry = self.catalog.registry
        return {
            name: engine
            for name, engine in registry.engines.items()
            if isinstance(engine, Codec) and registry.is_ready(name)
        }

    async def _codec_prompts(self, clip: ReferenceClip, transcript: str) -> dict[str, CodecPrompt]:
        """Each ready codec engine's cloning prompt of the clip (tokens, mel, speaker), made
        once here so that speaking in the voice costs nothing more. A codec that fails is
        logged and left out: the voice still works with every other engine."""
        prompts: dict[str, CodecPrompt] = {}
        if self.prompts is None:
            return prompts
        for name, codec in self._codecs().items():
            try:
                prompts[name] = await codec.prepare_prompt(
                    clip.samples, clip.sample_rate, transcript
                )
            except Exception:
                logger.exception("codec %s could not prepare the voice prompt", name)
        return prompts

    def _recognizer(self) -> Recognizer:
        """The engine that writes transcripts: 503 while it loads, 400 where none is set up."""
        name = self.settings.voices.transcription_model
        model = self.catalog.by_name.get(name)
        if model is None or not isinstance(model.engine, Recognizer):
            raise InvalidRequest(
                f"'transcript' is required: the transcription model '{name}' "
                "(voices.transcription_model) is not configured here",
                param="transcript",
                code="transcript_required",
            )
        engine = self.catalog.resolve(name, "transcription").engine
        assert isinstance(engine, Recognizer)
        return engine

    async def _recognize(self, engine: Recognizer, flac: bytes, language: str | None) -> str:
        """What is said in the stored clip, exactly as stored (resampled for the recognizer)."""
        decoded = await engine.pool.run(decode_audio, flac, WHISPER_SAMPLE_RATE)
        spoken = language.split("-")[0].lower() if language else None
        options = TranscriptionOptions(language=spoken if spoken in engine.languages else None)
        stream = await hear(engine, decoded.samples, options)
        text = full_text([segment async for segment in stream.segments])
        if not text:
            raise InvalidRequest(
                "No words were recognised in the audio sample; send its transcript in 'transcript'",
                param="transcript",
                code="transcript_required",
            )
        return text

    async def update_profile(self, voice_id: str, changes: dict[str, Any]) -> VoiceProfile:
        await self.get_profile(voice_id)
        editable = {k: v for k, v in changes.items() if k in EDITABLE}
        checked = check_fields(editable, self.settings, self.reserved_names())
        profile = await self.store.update(voice_id, checked)
        if profile is None:
            raise _not_found(voice_id)
        return profile

    async def delete_voice(self, voice_id: str) -> None:
        if voice_id in self.builtin_voices():
            raise InvalidRequest(
                f"'{voice_id}' is a built-in voice; only cloned voices can be deleted",
                param="voice_id",
                code="builtin_voice",
            )
        if not VOICE_ID.fullmatch(voice_id) or not await self.store.delete(voice_id):
            raise _not_found(voice_id)

    def scored_preview(
        self, profile: VoiceProfile, model: str, stream: ByteStream, response_format: str
    ) -> ByteStream:
        """A preview's stream, scored against the reference clip once it has all been made."""
        scoring = PreviewScoring(self.store, self.catalog.registry.pool)
        return scoring.scored(profile, model, stream, response_format)

    async def reference_audio(self, profile: VoiceProfile, audio_format: str) -> bytes:
        """The stored reference clip as FLAC (as stored) or 16-bit WAV."""
        if audio_format == "flac":
            return profile.audio
        samples, rate = await self.catalog.registry.pool.run(load_flac, profile.audio)
        clip = ReferenceClip(
            samples, rate, len(samples) / rate, profile.speech_seconds, profile.loudness_lufs,
            profile.source_duration_seconds, rate, 1,
        )  # fmt: skip
        return await self.catalog.registry.pool.run(clip_to_wav, clip)
