"""chunking_strategy in a transcription form: "auto", or server_vad's settings as the SDK sends
them (``chunking_strategy[threshold]`` ...) or as one JSON object; each bad value a 400 that
names it."""

from __future__ import annotations

import json
from typing import Any

from litestar.datastructures import FormMultiDict

from stepaudio_api.api.forms import form_text
from stepaudio_api.errors import InvalidRequest
from stepaudio_api.serving.audio_pieces import WHOLE, PieceRule, server_vad

_SETTINGS = ("threshold", "prefix_padding_ms", "silence_duration_ms")
CHUNKING_FIELDS = {f"chunking_strategy[{key}]" for key in ("type", *_SETTINGS)}
"""The bracketed form fields, beside ``chunking_strategy`` itself."""


def chunking_rule(form: FormMultiDict) -> PieceRule:
    value: Any = form_text(form, "chunking_strategy")
    bracketed = {key[len("chunking_strategy[") : -1]: form_text(form, key)
                 for key in CHUNKING_FIELDS if key in form}  # fmt: skip
    if bracketed:
        if value is not None:
            raise InvalidRequest("chunking_strategy is given twice: as a value and as fields",
                                 param="chunking_strategy")  # fmt: skip
        return _server_vad(bracketed, from_text=True)
    if value is None or value == "auto":
        return WHOLE
    if value.startswith("{"):
        try:
            value = json.loads(value)
        except ValueError:
            raise InvalidRequest("chunking_strategy is not valid JSON",
                                 param="chunking_strategy") from None  # fmt: skip
    if not isinstance(value, dict):
        raise InvalidRequest(f"chunking_strategy must be 'auto' or a server_vad object, not "
                             f"{value!r}", param="chunking_strategy")  # fmt: skip
    for key in value:
        if key not in ("type", *_SETTINGS):
            raise InvalidRequest(f"Unknown parameter: 'chunking_strategy.{key}'",
                                 param=f"chunking_strategy.{key}")  # fmt: skip
    return _server_vad(value, from_text=False)


def _server_vad(fields: dict[str, Any], from_text: bool) -> PieceRule:
    if fields.get("type") != "server_vad":
        raise InvalidRequest(f"chunking_strategy.type must be 'server_vad', not "
                             f"{fields.get('type')!r}", param="chunking_strategy.type")  # fmt: skip
    settings: dict[str, Any] = {}
    for key in _SETTINGS:
        if fields.get(key) is None:
            continue
        param, raw = f"chunking_strategy.{key}", fields[key]
        number = _number(raw, param) if from_text or isinstance(raw, str) else raw
        if isinstance(number, bool) or not isinstance(number, int | float) or number != number:
            raise InvalidRequest(f"{param} must be a number", param=param)
        if key == "threshold":
            if not 0.0 <= number <= 1.0:
                raise InvalidRequest(f"{param} must be from 0 to 1, not {raw}", param=param)
            settings[key] = float(number)
        elif not float(number).is_integer() or not 0 <= number <= 10_000:
            raise InvalidRequest(f"{param} must be a whole number of milliseconds from 0 to "
                                 f"10000, not {raw}", param=param)  # fmt: skip
        else:
            settings[key] = int(number)
    return server_vad(**settings)


def _number(text: str, param: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InvalidRequest(f"{param} must be a number, not {text!r}", param=param) from None
