"""/admin/voices: voice profiles with all their metadata; upload, edit, delete, download the
reference clip, and preview synthesis in the cloned voice."""

from __future__ import annotations

from urllib.parse import quote

import msgspec
from litestar import Request, Response, Router, delete, get, patch, post
from litestar.params import FromPath
from litestar.response import Stream

from stepaudio_api.api.dependencies import ServicesDependency
from stepaudio_api.api.forms import FORM_OVERHEAD_BYTES, form_fields
from stepaudio_api.api.json_body import decode_json_body
from stepaudio_api.api.openapi import AUDIO, BINARY, documented
from stepaudio_api.api.request_context import caller_of, request_id_of
from stepaudio_api.api.streaming import start_streaming
from stepaudio_api.api.voices import create_profile_from_form, voice_object
from stepaudio_api.errors import InvalidRequest
from stepaudio_api.protocol.speech import SpeechRequest, VoiceId
from stepaudio_api.protocol.voices import (
    AdminVoiceForm,
    VoiceDeleted,
    VoiceForm,
    VoiceList,
    VoiceObject,
    VoicePreviewRequest,
    VoiceUpdateRequest,
)

ADMIN_FIELDS = form_fields(AdminVoiceForm) - form_fields(VoiceForm)
AUDIO_TYPES = {"wav": "audio/wav", "flac": "audio/flac"}


async def create_profile(request: Request, services: ServicesDependency) -> VoiceObject:
    profile = await create_profile_from_form(request, services, ADMIN_FIELDS, admin=True)
    return voice_object(services.voices.profile_listing(profile), admin=True)


@get("/")
async def list_profiles(services: ServicesDependency) -> VoiceList:
    profiles = await services.voices.store.list()
    listings = [services.voices.profile_listing(p) for p in profiles]
    return VoiceList(data=[voice_object(v, admin=True) for v in listings])


@get("/{voice_id:str}")
async def retrieve_profile(voice_id: FromPath[str], services: ServicesDependency) -> VoiceObject:
    profile = await services.voices.get_profile(voice_id)
    return voice_object(services.voices.profile_listing(profile), admin=True)


@patch("/{voice_id:str}", opt=documented(body=VoiceUpdateRequest))
async def update_profile(
    voice_id: FromPath[str], request: Request, services: ServicesDependency
) -> VoiceObject:
    body = decode_json_body(await request.body(), VoiceUpdateRequest)
    changes = {
        name: value
        for name in ("name", "transcript", "description", "language")
        if (value := getattr(body, name)) is not msgspec.UNSET
    }
    profile = await services.voices.update_profile(voice_id, changes)
    return voice_object(services.voices.profile_listing(profile), admin=True)


@delete("/{voice_id:str}", status_code=200)
async def delete_profile(voice_id: FromPath[str], services: ServicesDependency) -> VoiceDeleted:
    await services.voices.delete_voice(voice_id)
    return VoiceDeleted(id=voice_id)


@get(
    "/{voice_id:str}/audio",
    opt=documented(
        answers={kind: BINARY for kind in AUDIO_TYPES.values()},
        query={"format": {"type": "string", "enum": list(AUDIO_TYPES), "default": "wav"}},
    ),
)
async def download_audio(
    voice_id: FromPath[str], request: Request, services: ServicesDependency
) -> Response[bytes]:
    """The prepared reference clip: 16-bit WAV (default) or FLAC, as stored."""
    audio_format = request.query_params.get("format", "wav")
    if audio_format not in AUDIO_TYPES:
        raise InvalidRequest("format must be wav or flac", param="format")
    profile = await services.voices.get_profile(voice_id)
    data = await services.voices.reference_audio(profile, audio_format)
    # an ASCII name for every client, the voice's own name for those that read RFC 6266
    disposition = (
        f'attachment; filename="{profile.id}.{audio_format}"; '
        f"filename*=UTF-8''{quote(profile.name, safe='')}.{audio_format}"
    )
    return Response(
        data,
        media_type=AUDIO_TYPES[audio_format],
        headers={"Content-Disposition": disposition},
    )


@post(
    "/{voice_id:str}/preview",
    status_code=200,
    opt=documented(body=VoicePreviewRequest, answers=AUDIO),
)
async def preview(
    voice_id: FromPath[str], request: Request, services: ServicesDependency
) -> Stream:
    """Speak `input` in the cloned voice, as POST /v1/audio/speech would; once it has all
    been made, its voice's similarity to the reference clip is kept on the profile
    (`preview_similarity`)."""
    body = decode_json_body(await request.body(), VoicePreviewRequest)
    profile = await services.voices.get_profile(voice_id)
    model = body.model or next(
        iter(services.models.cloning_models() + services.models.names_for("speech")), None
    )
    if model is None:
        raise InvalidRequest("No speech model is configured on this server", param="model")
    speech_request = SpeechRequest(
        model=model,
        input=body.input,
        voice=VoiceId(id=profile.id),
        response_format=body.response_format,
    )
    meter = services.meter(caller_of(request), request_id_of(request), "speech")
    speech = services.speech.create_speech(speech_request, meter)
    scored = services.voices.scored_preview(profile, model, speech, body.response_format)
    return await start_streaming(meter.track(scored))


def admin_voices_router(max_upload_bytes: int) -> Router:
    """The routes; the upload's body limit is checked against Content-Length before reading."""
    limit = max_upload_bytes + FORM_OVERHEAD_BYTES
    upload = post("/", status_code=201, request_max_body_size=limit,
                  opt=documented(form=AdminVoiceForm))  # fmt: skip
    return Router(
        path="/admin/voices",
        route_handlers=[
            upload(create_profile), list_profiles, retrieve_profile, update_profile,
            delete_profile, download_audio, preview,
        ],
    )  # fmt: skip
