"""Decode a JSON request body into its protocol Struct, with errors that name the field."""

from __future__ import annotations

import re
import typing
from typing import Any, TypeVar

import msgspec

from stepaudio_api.errors import InvalidRequest
from stepaudio_api.protocol.json_errors import decode_error_message

T = TypeVar("T")
_AT_FIELD = re.compile(r"at `\$\.([A-Za-z_][\w]*)")
_NAMED_FIELD = re.compile(r"field `([\w]+)`")


def _accepted_values(struct_type: type, field: str) -> tuple[Any, ...]:
    hint = typing.get_type_hints(struct_type).get(field)
    if typing.get_origin(hint) is typing.Literal:
        return typing.get_args(hint)
    return ()


def decode_json_body(body: bytes, struct_type: type[T]) -> T:
    if not body.strip():
        raise InvalidRequest("The request body is empty; send a JSON object")
    try:
        return msgspec.json.decode(body, type=struct_type)
    except msgspec.ValidationError as exc:
        text = str(exc)
        match = _AT_FIELD.search(text) or _NAMED_FIELD.search(text)
        param = match.group(1) if match else None
        message = text.replace("Object contains unknown field", "Unrecognized request argument")
        if param and (values := _accepted_values(struct_type, param)):
            message += "; supported values: " + ", ".join(str(v) for v in values)
        raise InvalidRequest(message, param=param) from None
    except msgspec.DecodeError as exc:
        raise InvalidRequest(decode_error_message(body, exc, "The request body")) from None
