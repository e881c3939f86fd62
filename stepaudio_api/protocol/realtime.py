"""/v1/realtime: the client events we accept (GA and beta), and the names server events go by.

Client events are checked field by field with msgspec; server events are built by serving as
dicts under their GA names and renamed here for a beta client.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from stepaudio_api.protocol.json_errors import decode_error_message

UNSET = msgspec.UNSET
Unset = msgspec.UnsetType
MAX_EVENT_BYTES = 15 * 1024 * 1024 * 4 // 3 + 4096
"""An append event may carry 15 MiB of audio, base64 encoded, and its JSON around it."""


class ClientEvent(msgspec.Struct, kw_only=True):
    type: str
    event_id: str | None = None


class SessionUpdate(ClientEvent):
    session: dict[str, Any]


class AppendAudio(ClientEvent):
    audio: str


class CreateItem(ClientEvent):
    item: dict[str, Any]
    previous_item_id: str | None = None


class ItemReference(ClientEvent):
    item_id: str


class TruncateItem(ClientEvent):
    item_id: str
    content_index: Annotated[int, msgspec.Meta(ge=0)]
    audio_end_ms: Annotated[int, msgspec.Meta(ge=0)]


class CreateResponse(ClientEvent):
    response: dict[str, Any] | None = None


class CancelResponse(ClientEvent):
    response_id: str | None = None


CLIENT_EVENTS: dict[str, type[ClientEvent]] = {
    "session.update": SessionUpdate,
    "transcription_session.update": SessionUpdate,
    "input_audio_buffer.append": AppendAudio,
    "input_audio_buffer.commit": ClientEvent,
    "input_audio_buffer.clear": ClientEvent,
    "output_audio_buffer.clear": ClientEvent,
    "conversation.item.create": CreateItem,
    "conversation.item.retrieve": ItemReference,
    "conversation.item.delete": ItemReference,
    "conversation.item.truncate": TruncateItem,
    "response.create": CreateResponse,
    "response.cancel": CancelResponse,
}


class BadEvent(ValueError):
    """A client event we cannot act on: sent back as an ``error`` event, the session goes on."""

    def __init__(self, message: str, code: str, param: str | None = None,
                 event_id: str | None = None) -> None:  # fmt: skip
        super().__init__(message)
        self.message, self.code, self.param, self.event_id = message, code, param, event_id


def parse_client_event(raw: str | bytes) -> ClientEvent:
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise BadEvent(decode_error_message(raw, exc, "The event"), "invalid_json") from None
    if not isinstance(value, dict):
        raise BadEvent("An event must be a JSON object with a 'type'", "invalid_event")
    event_id = value.get("event_id") if isinstance(value.get("event_id"), str) else None
    kind = value.get("type")
    if not isinstance(kind, str):
        raise BadEvent("The event has no 'type'", "missing_type", "type", event_id)
    event_type = CLIENT_EVENTS.get(kind)
    if event_type is None:
        raise BadEvent(
            f"Invalid value: '{kind}'. Supported values are: " + ", ".join(CLIENT_EVENTS),
            "invalid_value", "type", event_id,
        )  # fmt: skip
    try:
        return msgspec.convert(value, event_type)
    except msgspec.ValidationError as exc:
        raise BadEvent(f"Invalid '{kind}' event: {exc}", "invalid_value", None, event_id) from None


BETA_NAMES: dict[str, str | None] = {
    "response.output_audio.delta": "response.audio.delta",
    "response.output_audio.done": "response.audio.done",
    "response.output_audio_transcript.delta": "response.audio_transcript.delta",
    "response.output_audio_transcript.done": "response.audio_transcript.done",
    "response.output_text.delta": "response.text.delta",
    "response.output_text.done": "response.text.done",
    "conversation.item.added": "conversation.item.created",
    "conversation.item.done": None,
    "input_audio_buffer.timeout_triggered": None,
}
"""GA event names as a beta client knows them (None: beta has no such event)."""


def wire_name(kind: str, beta: bool) -> str | None:
    return BETA_NAMES.get(kind, kind) if beta else kind
