"""/admin/voice_consents: every key's consent recordings with their owner and figures; list,
read, download the recording, delete."""

from __future__ import annotations

from litestar import Request, Response, Router, delete, get
from litestar.params import FromPath

from stepaudio_api.api.dependencies import ServicesDependency
from stepaudio_api.api.openapi import BINARY, documented
from stepaudio_api.api.voice_consents import PAGE_QUERY, consent_object, consent_page
from stepaudio_api.errors import InvalidRequest
from stepaudio_api.protocol.voice_consents import (
    VoiceConsentDeleted,
    VoiceConsentList,
    VoiceConsentObject,
)
from stepaudio_api.store.voice_consents import EVERY_KEY

AUDIO_TYPES = {"wav": "audio/wav", "flac": "audio/flac"}


@get("/", opt=documented(query=PAGE_QUERY))
async def list_all_consents(request: Request, services: ServicesDependency) -> VoiceConsentList:
    return await consent_page(request, services, EVERY_KEY, admin=True)


@get("/{consent_id:str}")
async def retrieve_any_consent(
    consent_id: FromPath[str], services: ServicesDependency
) -> VoiceConsentObject:
    consent = await services.voice_consents.get_consent(consent_id, EVERY_KEY)
    return consent_object(consent, admin=True)


@delete("/{consent_id:str}", status_code=200)
async def delete_any_consent(
    consent_id: FromPath[str], services: ServicesDependency
) -> VoiceConsentDeleted:
    await services.voice_consents.delete_consent(consent_id, EVERY_KEY)
    return VoiceConsentDeleted(id=consent_id)


@get(
    "/{consent_id:str}/audio",
    opt=documented(
        answers={kind: BINARY for kind in AUDIO_TYPES.values()},
        query={"format": {"type": "string", "enum": list(AUDIO_TYPES), "default": "wav"}},
    ),
)
async def download_recording(
    consent_id: FromPath[str], request: Request, services: ServicesDependency
) -> Response[bytes]:
    """The consent recording as stored (mono, 16-bit): WAV (default) or FLAC."""
    audio_format = request.query_params.get("format", "wav")
    if audio_format not in AUDIO_TYPES:
        raise InvalidRequest("format must be wav or flac", param="format")
    consent = await services.voice_consents.get_consent(consent_id, EVERY_KEY)
    data = await services.voice_consents.recording_audio(consent, audio_format)
    disposition = f'attachment; filename="{consent.id}.{audio_format}"'
    return Response(
        data, media_type=AUDIO_TYPES[audio_format], headers={"Content-Disposition": disposition}
    )


admin_voice_consents_router = Router(
    path="/admin/voice_consents",
    route_handlers=[list_all_consents, retrieve_any_consent, delete_any_consent,
                    download_recording],
)  # fmt: skip
