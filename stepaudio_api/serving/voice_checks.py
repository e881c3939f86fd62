"""What a cloned voice may be called and hold: names, text fields, upload size; 4xx otherwise."""

from __future__ import annotations

import io
from collections.abc import Collection
from typing import Any, BinaryIO

from stepaudio_api.errors import Conflict, InvalidRequest, PayloadTooLarge
from stepaudio_api.settings import Settings
from stepaudio_api.store.voices import VOICE_ID

MAX_NAME = 100  # the columns' lengths
MAX_LANGUAGE = 16
MAX_CONSENT = 200
MAX_DESCRIPTION = 2000


def check_name(name: str, builtin: Collection[str]) -> str:
    """A cloned voice's name: 1-100 characters, neither a built-in voice's name nor an id."""
    name = name.strip()
    if not 1 <= len(name) <= MAX_NAME:
        message = f"'name' must be 1 to {MAX_NAME} characters long"
        raise InvalidRequest(message, param="name", code="invalid_name")
    if name in builtin:
        raise Conflict(
            f"'{name}' is the name of a built-in voice; choose another name",
            param="name",
            code="voice_name_taken",
        )
    if VOICE_ID.fullmatch(name):
        message = f"'{name}' has the form of a voice id; choose another name"
        raise InvalidRequest(message, param="name", code="invalid_name")
    return name


def check_fields(
    fields: dict[str, Any], settings: Settings, builtin: Collection[str]
) -> dict[str, Any]:
    """Trimmed profile fields; a 400 naming the first one out of bounds. Blank description or
    language clear it; a transcript, when given, must say something."""
    checked = dict(fields)
    if "name" in checked:
        checked["name"] = check_name(str(checked["name"]), builtin)
    limits = {
        "transcript": settings.speech.max_input_characters,
        "language": MAX_LANGUAGE,
        "description": MAX_DESCRIPTION,
        "consent": MAX_CONSENT,
    }
    for field, limit in limits.items():
        if checked.get(field) is None:
            continue
        value = str(checked[field]).strip()
        if field == "transcript" and not value:
            raise InvalidRequest("'transcript' must not be empty", param="transcript")
        if len(value) > limit:
            raise InvalidRequest(
                f"'{field}' is {len(value)} characters long; the maximum is {limit}", param=field
            )
        checked[field] = value or None
    return checked


def check_size(audio: bytes | BinaryIO, limit: int, param: str = "audio_sample") -> None:
    if isinstance(audio, bytes | bytearray):
        size = len(audio)
    else:
        size = audio.seek(0, io.SEEK_END)
        audio.seek(0)
    if size > limit:
        raise PayloadTooLarge(
            f"The {param.replace('_', ' ')} is {size} bytes; the maximum is {limit} bytes",
            param=param,
            code="file_too_large",
        )
