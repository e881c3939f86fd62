"""POST /v1/audio/transcriptions and /v1/audio/translations (multipart uploads)."""

from __future__ import annotations

from typing import Literal

from litestar import Request, Router, post
from litestar.datastructures import FormMultiDict
from litestar.response import Stream

from stepaudio_api.api.chunking import CHUNKING_FIELDS, chunking_rule
from stepaudio_api.api.dependencies import ServicesDependency
from stepaudio_api.api.forms import (
    FORM_OVERHEAD_BYTES,
    form_bool,
    form_fields,
    form_file,
    form_text,
    read_form,
)
from stepaudio_api.api.openapi import EVENTS, TEXT, documented
from stepaudio_api.api.request_context import caller_of, request_id_of
from stepaudio_api.api.streaming import start_streaming
from stepaudio_api.errors import InvalidRequest
from stepaudio_api.protocol.transcription import (
    Transcription,
    TranscriptionDiarized,
    TranscriptionForm,
    TranscriptionVerbose,
    TranslationForm,
)
from stepaudio_api.serving.transcription import TranscriptionJob

TRANSCRIPTS = {
    "application/json": (Transcription, TranscriptionVerbose, TranscriptionDiarized),
    "text/plain": TEXT, "application/x-subrip": TEXT, "text/vtt": TEXT,
}  # fmt: skip
_TRANSCRIPTION_FIELDS = form_fields(TranscriptionForm) | CHUNKING_FIELDS
_TRANSLATION_FIELDS = form_fields(TranslationForm)


def _job(form: FormMultiDict, task: Literal["transcribe", "translate"]) -> TranscriptionJob:
    model = form_text(form, "model")
    if model is None:
        raise InvalidRequest("'model' is required", param="model")
    temperature = form_text(form, "temperature")
    try:
        temperature_value = float(temperature) if temperature is not None else None
    except ValueError:
        raise InvalidRequest("temperature must be a number", param="temperature") from None
    return TranscriptionJob(
        model=model,
        task=task,
        language=form_text(form, "language"),
        prompt=form_text(form, "prompt"),
        response_format=form_text(form, "response_format") or "json",
        temperature=temperature_value,
        timestamp_granularities=_values(form, "timestamp_granularities"),
        stream=form_bool(form, "stream") or False,
        include=_values(form, "include"),
        chunking=chunking_rule(form),
        chunking_given=any(
            key == "chunking_strategy" or key.startswith("chunking_strategy[") for key in form
        ),
        known_speaker_names=_values(form, "known_speaker_names"),
        known_speaker_references=_values(form, "known_speaker_references"),
    )


def _values(form: FormMultiDict, name: str) -> tuple[str, ...]:
    """An array field, as the SDK sends it (``name[]``, repeated) or by its bare name."""
    return tuple(str(v) for key in (f"{name}[]", name) for v in form.getall(key, []))


async def _recognize(
    request: Request, services: ServicesDependency, task: Literal["transcribe", "translate"]
) -> Stream:
    allowed = _TRANSCRIPTION_FIELDS if task == "transcribe" else _TRANSLATION_FIELDS
    form = await read_form(request, allowed)
    job = _job(form, task)
    upload = form_file(form, "file", services.settings.server.max_upload_bytes)
    capability = "transcription" if task == "transcribe" else "translation"
    meter = services.meter(caller_of(request), request_id_of(request), capability)
    stream = services.transcription.create_transcription(upload.file, job, meter)
    return await start_streaming(meter.track(stream))


@post(
    "/audio/transcriptions",
    status_code=200,
    opt=documented(form=TranscriptionForm, answers=TRANSCRIPTS | EVENTS),
)
async def create_transcription(request: Request, services: ServicesDependency) -> Stream:
    return await _recognize(request, services, "transcribe")


@post(
    "/audio/translations",
    status_code=200,
    opt=documented(form=TranslationForm, answers=TRANSCRIPTS),
)
async def create_translation(request: Request, services: ServicesDependency) -> Stream:
    return await _recognize(request, services, "translate")


def upload_router(max_upload_bytes: int) -> Router:
    """The upload routes, with a body limit checked against Content-Length before reading."""
    return Router(
        path="/v1",
        route_handlers=[create_transcription, create_translation],
        request_max_body_size=max_upload_bytes + FORM_OVERHEAD_BYTES,
    )
