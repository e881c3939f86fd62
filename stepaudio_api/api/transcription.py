"""POST /v1/audio/transcriptions and /v1/audio/translations (multipart uploads)."""

from __future__ import annotations

from typing import Literal

from litestar import Request, Router, post
from litestar.datastructures import FormMultiDict, UploadFile
from litestar.response import Stream

from stepaudio_api.api.request_context import caller_of, request_id_of
from stepaudio_api.api.streaming import start_streaming
from stepaudio_api.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType
from stepaudio_api.services import Services
from stepaudio_api.serving.transcription import TranscriptionJob

_TRANSCRIPTION_FIELDS = {
    "file", "model", "language", "prompt", "response_format", "temperature", "stream",
    "timestamp_granularities[]", "timestamp_granularities", "include[]", "include",
    "chunking_strategy",
}  # fmt: skip
_TRANSLATION_FIELDS = {"file", "model", "prompt", "response_format", "temperature"}
FORM_OVERHEAD_BYTES = 1024 * 1024
"""Room for the form's other fields on top of the file size limit."""


async def _read_form(request: Request, allowed: set[str]) -> FormMultiDict:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        raise UnsupportedMediaType(
            f"Content-Type must be multipart/form-data, not '{content_type or 'none'}'",
            code="unsupported_media_type",
        )
    form = await request.form()
    for key in form:
        if key not in allowed:
            raise InvalidRequest(f"Unrecognized request argument supplied: {key}", param=key)
    return form


def _text(form: FormMultiDict, name: str) -> str | None:
    value = form.get(name)
    if value is None or isinstance(value, UploadFile):
        return None
    return str(value).strip() or None


def _upload(form: FormMultiDict, limit: int) -> UploadFile:
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        message = "'file' is required: upload the audio as a multipart file part"
        if upload is not None:
            message = "'file' must be an uploaded file, not a text field"
        raise InvalidRequest(message, param="file")
    size = upload.file.seek(0, 2)
    upload.file.seek(0)
    if size > limit:
        raise PayloadTooLarge(
            f"The file is {size} bytes; the maximum is {limit} bytes",
            param="file",
            code="file_too_large",
        )
    return upload


def _job(form: FormMultiDict, task: Literal["transcribe", "translate"]) -> TranscriptionJob:
    model = _text(form, "model")
    if model is None:
        raise InvalidRequest("'model' is required", param="model")
    temperature = _text(form, "temperature")
    try:
        temperature_value = float(temperature) if temperature is not None else None
    except ValueError:
        raise InvalidRequest("temperature must be a number", param="temperature") from None
    stream = (_text(form, "stream") or "false").lower()
    if stream not in ("true", "false", "1", "0"):
        raise InvalidRequest("stream must be true or false", param="stream")
    granularities = [
        str(v)
        for key in ("timestamp_granularities[]", "timestamp_granularities")
        for v in form.getall(key, [])
    ]
    include = [str(v) for key in ("include[]", "include") for v in form.getall(key, [])]
    if include:
        raise InvalidRequest(
            f"include {include} is not supported: no model here returns logprobs", param="include"
        )
    chunking = _text(form, "chunking_strategy")
    if chunking not in (None, "auto"):
        raise InvalidRequest("chunking_strategy supports only 'auto'", param="chunking_strategy")
    return TranscriptionJob(
        model=model,
        task=task,
        language=_text(form, "language"),
        prompt=_text(form, "prompt"),
        response_format=_text(form, "response_format") or "json",
        temperature=temperature_value,
        timestamp_granularities=tuple(granularities),
        stream=stream in ("true", "1"),
    )


async def _recognize(
    request: Request, services: Services, task: Literal["transcribe", "translate"]
) -> Stream:
    allowed = _TRANSCRIPTION_FIELDS if task == "transcribe" else _TRANSLATION_FIELDS
    form = await _read_form(request, allowed)
    job = _job(form, task)
    upload = _upload(form, services.settings.server.max_upload_bytes)
    capability = "transcription" if task == "transcribe" else "translation"
    meter = services.meter(caller_of(request), request_id_of(request), capability)
    stream = services.transcription.create_transcription(upload.file, job, meter)
    return await start_streaming(meter.track(stream))


@post("/audio/transcriptions", status_code=200)
async def create_transcription(request: Request, services: Services) -> Stream:
    return await _recognize(request, services, "transcribe")


@post("/audio/translations", status_code=200)
async def create_translation(request: Request, services: Services) -> Stream:
    return await _recognize(request, services, "translate")


def upload_router(max_upload_bytes: int) -> Router:
    """The upload routes, with a body limit checked against Content-Length before reading."""
    return Router(
        path="/v1",
        route_handlers=[create_transcription, create_translation],
        request_max_body_size=max_upload_bytes + FORM_OVERHEAD_BYTES,
    )
