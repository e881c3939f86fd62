"""Checks of client-given values in realtime events: each names the field it refuses (as
OpenAI's ``param``: ``session.audio.output.speed``), so a client sees what to change."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from stepaudio_api.protocol.realtime import BadEvent


def bad(param: str, message: str, code: str = "invalid_value") -> BadEvent:
    return BadEvent(message, code, param)


def known_fields(value: dict[str, Any], allowed: Collection[str], param: str) -> None:
    """OpenAI refuses a parameter it does not know, naming it."""
    for key in value:
        if key not in allowed:
            raise bad(f"{param}.{key}", f"Unknown parameter: '{param}.{key}'.",
                      "unknown_parameter")  # fmt: skip


def an_object(value: Any, param: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad(param, f"Invalid type for '{param}': expected an object, but got "
                         f"{_kind(value)} instead.", "invalid_type")  # fmt: skip
    return value


def a_string(value: Any, param: str) -> str:
    if not isinstance(value, str):
        raise bad(param, f"Invalid type for '{param}': expected a string, but got "
                         f"{_kind(value)} instead.", "invalid_type")  # fmt: skip
    return value


def a_bool(value: Any, param: str) -> bool:
    if not isinstance(value, bool):
        raise bad(param, f"Invalid type for '{param}': expected a boolean, but got "
                         f"{_kind(value)} instead.", "invalid_type")  # fmt: skip
    return value


def a_number(value: Any, param: str, low: float, high: float) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or value != value:
        raise bad(param, f"Invalid type for '{param}': expected a number, but got "
                         f"{_kind(value)} instead.", "invalid_type")  # fmt: skip
    if not low <= value <= high:
        raise bad(param, f"Invalid '{param}': {value} is out of range; it must be from {low:g} "
                         f"to {high:g}.")  # fmt: skip
    return float(value)


def an_integer(value: Any, param: str, low: int, high: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise bad(param, f"Invalid type for '{param}': expected an integer, but got "
                         f"{_kind(value)} instead.", "invalid_type")  # fmt: skip
    if not low <= value <= high:
        raise bad(param, f"Invalid '{param}': {value} is out of range; it must be from {low} "
                         f"to {high}.")  # fmt: skip
    return value


def one_of(value: Any, choices: Collection[str], param: str) -> str:
    if not isinstance(value, str) or value not in choices:
        raise bad(param, f"Invalid value for '{param}': {value!r}. Supported values are: "
                         + ", ".join(f"'{c}'" for c in choices) + ".")  # fmt: skip
    return value


def a_list(value: Any, param: str) -> list[Any]:
    if not isinstance(value, list):
        raise bad(param, f"Invalid type for '{param}': expected an array, but got "
                         f"{_kind(value)} instead.", "invalid_type")  # fmt: skip
    return value


MODALITIES = ("text", "audio")


def modalities(value: Any, param: str) -> bool:
    """A modalities list: whether it asks for audio."""
    chosen = a_list(value, param)
    if not chosen:
        raise bad(param, f"'{param}' must name at least one of 'text', 'audio'.")
    for index, modality in enumerate(chosen):
        one_of(modality, MODALITIES, f"{param}[{index}]")
    return "audio" in chosen


MAX_OUTPUT_TOKENS = 4096


def output_tokens(value: Any, param: str) -> int | str:
    """OpenAI's max_output_tokens: an integer from 1 to 4096, or "inf"."""
    if value == "inf":
        return "inf"
    if isinstance(value, str):
        raise bad(param, f"Invalid value for '{param}': {value!r}; use an integer from 1 to "
                         f"{MAX_OUTPUT_TOKENS} or 'inf'.")  # fmt: skip
    return an_integer(value, param, 1, MAX_OUTPUT_TOKENS)


def voice_name(value: Any, param: str) -> str:
    """A voice: a name, or {"id": custom voice}."""
    if isinstance(value, dict):
        known_fields(value, ("id",), param)
        return a_string(value.get("id"), f"{param}.id")
    return a_string(value, param)


TOOL_CHOICES = ("auto", "none", "required")


def function_tools(value: Any, param: str) -> list[dict[str, Any]]:
    tools = []
    for index, tool in enumerate(a_list(value, param)):
        where = f"{param}[{index}]"
        an_object(tool, where)
        known_fields(tool, ("type", "name", "description", "parameters"), where)
        kind = tool.get("type", "function")
        if kind != "function":
            raise bad(f"{where}.type", f"Invalid tool type {kind!r}: only 'function' tools are "
                                       "supported here.")  # fmt: skip
        name = a_string(tool.get("name"), f"{where}.name")
        if not name:
            raise bad(f"{where}.name", "A function tool needs a 'name'.")
        description = tool.get("description") or ""
        a_string(description, f"{where}.description")
        parameters = tool.get("parameters") or {"type": "object", "properties": {}}
        an_object(parameters, f"{where}.parameters")
        tools.append({"type": "function", "name": name, "description": description,
                      "parameters": parameters})  # fmt: skip
    return tools


def tool_choice(value: Any, param: str) -> Any:
    if isinstance(value, str):
        return one_of(value, TOOL_CHOICES, param)
    choice = an_object(value, param)
    one_of(choice.get("type"), ("function",), f"{param}.type")
    name = choice.get("name") or (choice.get("function") or {}).get("name")
    return {"type": "function", "name": a_string(name, f"{param}.name")}


def response_fields(given: dict[str, Any], prefix: str) -> dict[str, Any]:
    """What a session or one response says of its answers (``prefix``: "session" or
    "response"): tools, tool_choice, temperature and the output token limit, checked; only
    those given."""
    fields: dict[str, Any] = {}
    if given.get("tools") is not None:
        fields["tools"] = function_tools(given["tools"], f"{prefix}.tools")
    if given.get("tool_choice") is not None:
        fields["tool_choice"] = tool_choice(given["tool_choice"], f"{prefix}.tool_choice")
    if given.get("temperature") is not None:
        fields["temperature"] = a_number(given["temperature"], f"{prefix}.temperature", 0, 2)
    for key in ("max_response_output_tokens", "max_output_tokens"):
        if given.get(key) is not None:
            fields["max_output_tokens"] = output_tokens(given[key], f"{prefix}.{key}")
    return fields


def metadata(value: Any, param: str) -> dict[str, str] | None:
    """OpenAI's metadata: at most 16 string pairs, keys to 64 characters, values to 512."""
    if value is None:
        return None
    pairs = an_object(value, param)
    if len(pairs) > 16:
        raise bad(param, f"'{param}' may hold at most 16 pairs, not {len(pairs)}.")
    for key, item in pairs.items():
        if len(key) > 64:
            raise bad(f"{param}.{key[:64]}", "Metadata keys are at most 64 characters.")
        if len(a_string(item, f"{param}.{key}")) > 512:
            raise bad(f"{param}.{key}", "Metadata values are at most 512 characters.")
    return dict(pairs)


def no_prompt(value: Any, param: str) -> None:
    """OpenAI's stored prompts (by id) live on OpenAI's side: there are none here."""
    if value is not None:
        raise bad(param, "Stored prompts are not supported by this server; send the text in "
                         "'instructions'.", "unsupported_value")  # fmt: skip


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
