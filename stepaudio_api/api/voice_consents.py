"""/v1/audio/voice_consents: OpenAI's voice consent recordings; upload, list (by cursor), read,
rename, delete. Each key sees only the consents it uploaded."""

from __future__ import annotations

from litestar import Request, Router, delete, get, post
from litestar.params import FromPath

from stepaudio_api.api.dependencies import ServicesDependency
from stepaudio_api.api.forms import (
    FORM_OVERHEAD_BYTES,
    MULTIPART,
    form_fields,
    form_file,
    read_form,
)
from stepaudio_api.api.json_body import decode_json_body
from stepaudio_api.api.openapi import documented
from stepaudio_api.api.request_context import caller_of
from stepaudio_api.api.voices import required_text
from stepaudio_api.errors import InvalidRequest
from stepaudio_api.protocol.voice_consents import (
    VoiceConsentDeleted,
    VoiceConsentForm,
    VoiceConsentList,
    VoiceConsentObject,
    VoiceConsentUpdateRequest,
)
from stepaudio_api.serving.voice_consents import DEFAULT_PAGE, MAX_PAGE
from stepaudio_api.store.tables import VoiceConsent
from stepaudio_api.store.voice_consents import Owner

CONSENT_FIELDS = form_fields(VoiceConsentForm)
PAGE_QUERY = {
    "after": {"type": "string", "description": "The last id of the page before"},
    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": DEFAULT_PAGE},
}


def consent_object(consent: VoiceConsent, admin: bool = False) -> VoiceConsentObject:
    """The wire form; the admin form adds the owner and the recording's figures."""
    wire = VoiceConsentObject(
        object="audio.voice_consent", id=consent.id, name=consent.name,
        language=consent.language, created_at=int(consent.created_at.timestamp()),
    )  # fmt: skip
    if admin:
        wire.key_id = consent.key_id
        wire.duration = consent.duration_seconds
        wire.speech_seconds = consent.speech_seconds
        wire.sample_rate = consent.sample_rate
        wire.source_filename = consent.source_filename
        wire.updated_at = int(consent.updated_at.timestamp())
    return wire


async def consent_page(request: Request, services: ServicesDependency, owner: Owner,
                       admin: bool = False) -> VoiceConsentList:  # fmt: skip
    """One page of ``owner``'s consents, as OpenAI's cursor lists are: `after` and `limit`
    in, `first_id`, `last_id` and `has_more` out."""
    raw_limit = request.query_params.get("limit")
    try:
        limit = int(raw_limit) if raw_limit is not None else None
    except ValueError:
        raise InvalidRequest(f"limit must be an integer, not '{raw_limit[:40]}'",
                             param="limit") from None  # fmt: skip
    after = request.query_params.get("after") or None
    found, more = await services.voice_consents.list_consents(owner, after, limit)
    data = [consent_object(c, admin) for c in found]
    first, last = (data[0].id, data[-1].id) if data else (None, None)
    return VoiceConsentList(data=data, first_id=first, last_id=last, has_more=more)


async def create_consent(request: Request, services: ServicesDependency) -> VoiceConsentObject:
    form = await read_form(request, CONSENT_FIELDS, MULTIPART)
    name = required_text(form, "name")
    language = required_text(form, "language")
    upload = form_file(form, "recording", services.settings.voices.max_upload_bytes)
    consent = await services.voice_consents.create_consent(
        upload.file, name, language, caller_of(request).key_id, filename=upload.filename
    )
    return consent_object(consent)


@get("/", opt=documented(query=PAGE_QUERY))
async def list_consents(request: Request, services: ServicesDependency) -> VoiceConsentList:
    return await consent_page(request, services, caller_of(request).key_id)


@get("/{consent_id:str}")
async def retrieve_consent(
    consent_id: FromPath[str], request: Request, services: ServicesDependency
) -> VoiceConsentObject:
    owner = caller_of(request).key_id
    return consent_object(await services.voice_consents.get_consent(consent_id, owner))


@post("/{consent_id:str}", status_code=200, opt=documented(body=VoiceConsentUpdateRequest))
async def update_consent(
    consent_id: FromPath[str], request: Request, services: ServicesDependency
) -> VoiceConsentObject:
    """Rename the consent (its metadata only; the recording stays as it is)."""
    body = decode_json_body(await request.body(), VoiceConsentUpdateRequest)
    owner = caller_of(request).key_id
    return consent_object(
        await services.voice_consents.rename_consent(consent_id, owner, body.name)
    )


@delete("/{consent_id:str}", status_code=200)
async def delete_consent(
    consent_id: FromPath[str], request: Request, services: ServicesDependency
) -> VoiceConsentDeleted:
    await services.voice_consents.delete_consent(consent_id, caller_of(request).key_id)
    return VoiceConsentDeleted(id=consent_id)


def voice_consents_router(max_upload_bytes: int) -> Router:
    """The routes; the upload's body limit is checked against Content-Length before reading."""
    upload = post("/", status_code=200, opt=documented(form=VoiceConsentForm),
                  request_max_body_size=max_upload_bytes + FORM_OVERHEAD_BYTES)  # fmt: skip
    return Router(
        path="/v1/audio/voice_consents",
        route_handlers=[
            upload(create_consent), list_consents, retrieve_consent, update_consent,
            delete_consent,
        ],
    )  # fmt: skip
