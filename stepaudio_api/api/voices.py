"""/v1/audio/voices: OpenAI's custom voices, cloned from an audio sample; list, read, delete."""

from __future__ import annotations

from litestar import Request, Router, delete, get, post
from litestar.datastructures import FormMultiDict
from litestar.params import FromPath

from stepaudio_api.api.dependencies import ServicesDependency
from stepaudio_api.api.forms import (
    FORM_OVERHEAD_BYTES,
    MULTIPART,
    form_bool,
    form_fields,
    form_file,
    form_text,
    read_form,
)
from stepaudio_api.api.openapi import documented
from stepaudio_api.api.request_context import caller_of, request_id_of
from stepaudio_api.errors import InvalidRequest
from stepaudio_api.protocol.voices import VoiceDeleted, VoiceForm, VoiceList, VoiceObject
from stepaudio_api.serving.voices import VoiceListing
from stepaudio_api.store.tables import VoiceProfile
from stepaudio_api.store.voice_consents import EVERY_KEY

VOICE_FIELDS = form_fields(VoiceForm)
PROMPT_FIELDS = {"prompt", "model", "script_hint"}
"""OpenAI's fields for a voice made from a text description, which no engine here can do."""


def voice_object(listing: VoiceListing, admin: bool = False) -> VoiceObject:
    """The wire form; the admin form adds everything stored about a cloned voice."""
    voice = VoiceObject(
        object="audio.voice", id=listing.id, name=listing.name, created_at=listing.created_at,
        type=listing.type, models=listing.models, language=listing.language,
        description=listing.description, alias_of=listing.alias_of, plugin=listing.plugin,
    )  # fmt: skip
    profile: VoiceProfile | None = listing.profile
    if profile is not None:
        voice.duration = profile.duration_seconds
        voice.speech_seconds = profile.speech_seconds
        voice.sample_rate = profile.sample_rate
        voice.transcript = profile.transcript
        voice.transcript_source = profile.transcript_source
        if admin:
            voice.updated_at = int(profile.updated_at.timestamp())
            voice.loudness_lufs = profile.loudness_lufs
            voice.denoised = profile.denoised
            voice.source_filename = profile.source_filename
            voice.source_duration = profile.source_duration_seconds
            voice.consent = profile.consent
            voice.created_by = profile.created_by
            voice.preview_similarity = profile.preview_similarity
            voice.preview_model = profile.preview_model
            if profile.previewed_at is not None:
                voice.previewed_at = int(profile.previewed_at.timestamp())
    return voice


def required_text(form: FormMultiDict, name: str) -> str:
    value = form_text(form, name)
    if value is None:
        raise InvalidRequest(f"'{name}' is required", param=name)
    return value


async def read_voice_form(request: Request, extra_fields: set[str]) -> FormMultiDict:
    """A multipart voice upload; `type: prompt` is refused with a message of its own."""
    form = await read_form(request, VOICE_FIELDS | PROMPT_FIELDS | extra_fields, MULTIPART)
    kind = form_text(form, "type") or "audio_sample"
    if kind == "prompt":
        raise InvalidRequest(
            "Voices from a text prompt (type 'prompt') are not supported here: create a voice "
            "from an audio sample (type 'audio_sample') with 'name' and 'audio_sample'",
            param="type",
            code="unsupported_voice_type",
        )
    if kind != "audio_sample":
        raise InvalidRequest(f"type must be 'audio_sample', not '{kind}'", param="type")
    if stray := sorted(PROMPT_FIELDS & set(form)):
        raise InvalidRequest(f"Unrecognized request argument supplied: {stray[0]}", param=stray[0])
    return form


async def create_profile_from_form(
    request: Request, services: ServicesDependency, extra_fields: set[str], admin: bool = False
) -> VoiceProfile:
    """A voice profile from a multipart upload, metered; ``extra_fields`` (the admin route's
    description, language, denoise) are accepted besides OpenAI's. A ``consent`` given must
    be one of the caller's voice consents (on the admin route: any key's)."""
    form = await read_voice_form(request, extra_fields)
    name = required_text(form, "name")
    upload = form_file(form, "audio_sample", services.settings.voices.max_upload_bytes)
    consent = form_text(form, "consent")
    if consent is not None:
        owner = EVERY_KEY if admin else caller_of(request).key_id
        consent = await services.voice_consents.check_voice_consent(consent, owner)
    meter = services.meter(caller_of(request), request_id_of(request), "voice_profile")
    async with meter.measuring():
        return await services.voices.create_profile(
            upload.file,
            name,
            transcript=form_text(form, "transcript"),
            consent=consent,
            filename=upload.filename,
            denoise=form_bool(form, "denoise"),
            meter=meter,
            description=form_text(form, "description"),
            language=form_text(form, "language"),
        )


async def create_voice(request: Request, services: ServicesDependency) -> VoiceObject:
    profile = await create_profile_from_form(request, services, set())
    return voice_object(services.voices.profile_listing(profile))


@get("/")
async def list_voices(services: ServicesDependency) -> VoiceList:
    return VoiceList(data=[voice_object(v) for v in await services.voices.list_voices()])


@get("/{voice_id:str}")
async def retrieve_voice(voice_id: FromPath[str], services: ServicesDependency) -> VoiceObject:
    return voice_object(await services.voices.get_voice(voice_id))


@delete("/{voice_id:str}", status_code=200)
async def delete_voice(voice_id: FromPath[str], services: ServicesDependency) -> VoiceDeleted:
    await services.voices.delete_voice(voice_id)
    return VoiceDeleted(id=voice_id)


def voices_router(max_upload_bytes: int) -> Router:
    """The routes; the upload's body limit is checked against Content-Length before reading."""
    upload = post("/", status_code=200, opt=documented(form=VoiceForm),
                  request_max_body_size=max_upload_bytes + FORM_OVERHEAD_BYTES)  # fmt: skip
    return Router(
        path="/v1/audio/voices",
        route_handlers=[upload(create_voice), list_voices, retrieve_voice, delete_voice],
    )
