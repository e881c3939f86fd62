"""Multipart and urlencoded forms: the content type, known fields only, text values, files."""

from __future__ import annotations

import msgspec
from litestar import Request
from litestar.datastructures import FormMultiDict, UploadFile

from stepaudio_api.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType

FORM_OVERHEAD_BYTES = 1024 * 1024
"""Room for a form's other fields on top of its file size limit."""
MULTIPART = ("multipart/form-data",)
FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")


def form_fields(form: type[msgspec.Struct]) -> set[str]:
    """The field names a form Struct documents, and the array fields also without their "[]"
    (OpenAI's SDK sends ``timestamp_granularities[]``, curl users often the bare name)."""
    names = set(form.__struct_encode_fields__)
    return names | {name.removesuffix("[]") for name in names}


async def read_form(
    request: Request, allowed: set[str], content_types: tuple[str, ...] = FORMS
) -> FormMultiDict:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(content_types):
        raise UnsupportedMediaType(
            f"Content-Type must be multipart/form-data, not '{content_type or 'none'}'",
            code="unsupported_media_type",
        )
    form = await request.form()
    for key in form:
        if key not in allowed:
            raise InvalidRequest(f"Unrecognized request argument supplied: {key}", param=key)
    return form


def form_text(form: FormMultiDict, name: str) -> str | None:
    value = form.get(name)
    if value is None or isinstance(value, UploadFile):
        return None
    return str(value).strip() or None


def form_bool(form: FormMultiDict, name: str) -> bool | None:
    value = (form_text(form, name) or "").lower()
    if not value:
        return None
    if value not in ("true", "false", "1", "0"):
        raise InvalidRequest(f"{name} must be true or false", param=name)
    return value in ("true", "1")


def form_file(form: FormMultiDict, name: str, limit: int) -> UploadFile:
    """The uploaded file part `name`, at most `limit` bytes."""
    upload = form.get(name)
    if not isinstance(upload, UploadFile):
        message = f"'{name}' is required: upload the audio as a multipart file part"
        if upload is not None:
            message = f"'{name}' must be an uploaded file, not a text field"
        raise InvalidRequest(message, param=name)
    size = upload.file.seek(0, 2)
    upload.file.seek(0)
    if size > limit:
        raise PayloadTooLarge(
            f"The file is {size} bytes; the maximum is {limit} bytes",
            param=name,
            code="file_too_large",
        )
    return upload
