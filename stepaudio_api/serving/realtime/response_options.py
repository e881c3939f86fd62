"""response.create's ``response``: what one response asks for beyond the session's settings,
checked when it is given (an error event naming the field, and no response), in either
generation's shape."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stepaudio_api.protocol.realtime import BadEvent
from stepaudio_api.serving.realtime import checks
from stepaudio_api.serving.realtime.audio_formats import RealtimeAudioFormat
from stepaudio_api.serving.realtime.checks import bad
from stepaudio_api.serving.realtime.conversation import Conversation, Item, item_from_client
from stepaudio_api.serving.realtime.session_update import audio_format

RESPONSE_FIELDS = (
    # GA
    "audio", "conversation", "input", "instructions", "max_output_tokens", "metadata",
    "output_modalities", "prompt", "tool_choice", "tools", "parallel_tool_calls", "reasoning",
    # beta
    "modalities", "voice", "output_audio_format", "temperature", "max_response_output_tokens",
)  # fmt: skip


@dataclass(slots=True)
class ResponseOptions:
    """None: as the session has it."""

    instructions: str | None = None
    audio: bool | None = None
    voice: str | None = None
    voice_param: str = "response.audio.output.voice"
    output_format: RealtimeAudioFormat | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None
    temperature: float | None = None
    max_output_tokens: int | str | None = None
    metadata: dict[str, str] | None = None
    in_conversation: bool = True
    input: list[Item] | None = None
    """The items this response reads instead of the conversation (``input``)."""


def response_options(raw: Any, conversation: Conversation) -> ResponseOptions:
    if raw is None:
        return ResponseOptions()
    given = checks.an_object(raw, "response")
    checks.known_fields(given, RESPONSE_FIELDS, "response")
    options = ResponseOptions()
    if given.get("instructions") is not None:
        options.instructions = checks.a_string(given["instructions"], "response.instructions")
    for key in ("modalities", "output_modalities"):
        if given.get(key) is not None:
            options.audio = checks.modalities(given[key], f"response.{key}")
    audio = checks.an_object(given.get("audio") or {}, "response.audio")
    checks.known_fields(audio, ("output",), "response.audio")
    output = checks.an_object(audio.get("output") or {}, "response.audio.output")
    checks.known_fields(output, ("format", "voice"), "response.audio.output")
    for value, param in ((given.get("voice"), "response.voice"),
                         (output.get("voice"), "response.audio.output.voice")):  # fmt: skip
        if value is not None:
            options.voice, options.voice_param = checks.voice_name(value, param), param
    for value, param in ((given.get("output_audio_format"), "response.output_audio_format"),
                         (output.get("format"), "response.audio.output.format")):  # fmt: skip
        if value is not None:
            options.output_format = audio_format(value, param)
    for name, value in checks.response_fields(given, "response").items():
        setattr(options, name, value)
    options.metadata = checks.metadata(given.get("metadata"), "response.metadata")
    if given.get("conversation") is not None:
        choice = checks.one_of(given["conversation"], ("auto", "none"), "response.conversation")
        options.in_conversation = choice == "auto"
    if given.get("input") is not None:
        options.input = _input(given["input"], conversation)
    if given.get("parallel_tool_calls") is not None:
        checks.a_bool(given["parallel_tool_calls"], "response.parallel_tool_calls")
    checks.no_prompt(given.get("prompt"), "response.prompt")
    return options


def _input(value: Any, conversation: Conversation) -> list[Item]:
    """Items given whole, or references to the conversation's ({"type": "item_reference"})."""
    items: list[Item] = []
    for index, raw in enumerate(checks.a_list(value, "response.input")):
        param = f"response.input[{index}]"
        checks.an_object(raw, param)
        if raw.get("type") == "item_reference":
            items.append(conversation.get(checks.a_string(raw.get("id"), f"{param}.id")))
            continue
        try:
            item = item_from_client(raw)
        except BadEvent as exc:  # its param names the item's field as "item...."
            exc.param = param + (exc.param or "item").removeprefix("item")
            raise
        if any(part.audio for part in item.content):
            raise bad(f"{param}.content", "Audio in a response's input is not supported; "
                      "create a conversation item with it and refer to it by id.",
                      "unsupported_value")  # fmt: skip
        items.append(item)
    return items
