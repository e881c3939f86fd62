"""A realtime conversation: its items in order, as clients create, read, cut and delete them,
and as the chat model is sent them."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from stepaudio_api.protocol.realtime import BadEvent

USER_PARTS = {"input_text", "input_audio"}
ASSISTANT_PARTS = {"text": "output_text", "output_text": "output_text", "audio": "output_audio",
                   "output_audio": "output_audio"}  # fmt: skip
BETA_PART = {"output_text": "text", "output_audio": "audio"}


def new_item_id() -> str:
    return "item_" + secrets.token_hex(10)


@dataclass(slots=True)
class Part:
    type: str
    """input_text, input_audio, output_text or output_audio (GA's names)."""
    text: str | None = None
    transcript: str | None = None
    audio: str | None = None
    """Base64 audio a client sent in a created item (not kept once heard)."""
    tokens: str | None = None
    """The audio as the session's model reads it (``<audio_N>`` codec tokens), for a model
    that hears audio itself; the transcript is still given to the client."""
    marks: list[tuple[int, int]] = field(default_factory=list)
    """Spoken output: (audio end in ms, transcript characters spoken by then), in order."""

    @property
    def words(self) -> str:
        return (self.text if self.type.endswith("text") else self.transcript) or ""

    @property
    def audio_ms(self) -> int:
        return self.marks[-1][0] if self.marks else 0

    def wire(self, beta: bool) -> dict[str, Any]:
        kind = BETA_PART.get(self.type, self.type) if beta else self.type
        if self.type.endswith("text"):
            return {"type": kind, "text": self.text or ""}
        return {"type": kind, "transcript": self.transcript}


@dataclass(slots=True)
class Item:
    type: str
    id: str = field(default_factory=new_item_id)
    role: str | None = None
    status: str = "completed"
    content: list[Part] = field(default_factory=list)
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    output: str | None = None

    def wire(self, beta: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "type": self.type, "object": "realtime.item",
                               "status": self.status}  # fmt: skip
        if self.type == "message":
            out |= {"role": self.role, "content": [p.wire(beta) for p in self.content]}
        elif self.type == "function_call":
            out |= {"call_id": self.call_id, "name": self.name, "arguments": self.arguments or ""}
        else:
            out |= {"call_id": self.call_id, "output": self.output or ""}
        return out

    def text(self) -> str:
        return " ".join(p.words for p in self.content if p.words)

    def model_text(self) -> str:
        """What the chat model reads: heard audio as its codec tokens where it has them."""
        return " ".join(p.tokens or p.words for p in self.content if p.tokens or p.words)


def item_from_client(raw: dict[str, Any]) -> Item:
    """conversation.item.create's item, either generation; a BadEvent names what is wrong."""
    kind = raw.get("type", "message")
    item = Item(kind, id=raw.get("id") or new_item_id())
    if kind == "function_call_output":
        if not isinstance(raw.get("call_id"), str) or not isinstance(raw.get("output"), str):
            raise _bad("item", "a function_call_output item needs 'call_id' and 'output' strings")
        item.call_id, item.output = raw["call_id"], raw["output"]
        return item
    if kind == "function_call":
        if not isinstance(raw.get("name"), str):
            raise _bad("item.name", "a function_call item needs a 'name'")
        item.call_id = raw.get("call_id") or "call_" + secrets.token_hex(8)
        item.name, item.arguments = raw["name"], raw.get("arguments") or "{}"
        return item
    if kind != "message":
        raise _bad("item.type", f"Invalid item type '{kind}': message, function_call or "
                                "function_call_output")  # fmt: skip
    role = raw.get("role")
    if role not in ("user", "assistant", "system"):
        raise _bad("item.role", f"Invalid role {role!r}: user, assistant or system")
    item.role = role
    content = raw.get("content")
    if not isinstance(content, list) or not content:
        raise _bad("item.content", "a message item needs a non-empty 'content' list")
    for index, part in enumerate(content):
        item.content.append(_part(part, role, f"item.content[{index}]"))
    return item


def _part(raw: Any, role: str, param: str) -> Part:
    kind = raw.get("type") if isinstance(raw, dict) else None
    if role != "assistant" and kind in USER_PARTS:
        if kind == "input_text":
            return Part("input_text", text=_string(raw, "text", param))
        if raw.get("audio") is None and raw.get("transcript") is None:
            raise _bad(param, "an input_audio part needs 'audio' (base64) or a 'transcript'")
        return Part("input_audio", transcript=raw.get("transcript"), audio=raw.get("audio"))
    if role == "assistant" and kind in ASSISTANT_PARTS:
        part_type = ASSISTANT_PARTS[kind]
        if part_type == "output_text":
            return Part(part_type, text=_string(raw, "text", param))
        return Part(part_type, transcript=raw.get("transcript") or "")
    allowed = "text, output_text, audio, output_audio" if role == "assistant" else (
        "input_text, input_audio")  # fmt: skip
    raise _bad(f"{param}.type", f"Invalid content type {kind!r} for a {role} message: {allowed}")


def _string(raw: dict[str, Any], key: str, param: str) -> str:
    if not isinstance(raw.get(key), str):
        raise _bad(f"{param}.{key}", f"'{key}' must be a string")
    return str(raw[key])


def _bad(param: str, message: str) -> BadEvent:
    return BadEvent(message, "invalid_value", param)


class Conversation:
    def __init__(self) -> None:
        self.items: list[Item] = []

    def get(self, item_id: str, action: str | None = None) -> Item:
        """The item; a BadEvent if there is none (for a client's retrieve, delete or truncate,
        with OpenAI's code for it: ``item_retrieve_invalid_item_id``, ...)."""
        for item in self.items:
            if item.id == item_id:
                return item
        code = f"item_{action}_invalid_item_id" if action else "item_not_found"
        raise BadEvent(f"Item with item_id '{item_id}' not found", code, "item_id")

    def add(self, item: Item, previous_item_id: str | None = None) -> str | None:
        """Insert after ``previous_item_id`` (default: at the end); returns the id before it."""
        if any(i.id == item.id for i in self.items):
            raise BadEvent(f"Item with id '{item.id}' already exists", "item_id_taken", "item.id")
        if previous_item_id is None:
            position = len(self.items)
        elif previous_item_id == "root":
            position = 0
        else:
            position = self.items.index(self.get(previous_item_id)) + 1
        self.items.insert(position, item)
        return self.items[position - 1].id if position else None

    def delete(self, item_id: str) -> None:
        self.items.remove(self.get(item_id, "delete"))

    def truncate(self, item_id: str, content_index: int, audio_end_ms: int) -> None:
        """Drop what the user never heard: the transcript after ``audio_end_ms``."""
        item = self.get(item_id, "truncate")
        if item.role != "assistant" or content_index >= len(item.content):
            raise BadEvent("Only an assistant message's audio can be truncated",
                           "invalid_value", "content_index")  # fmt: skip
        part = item.content[content_index]
        if part.type != "output_audio":
            raise BadEvent("That content part is not audio", "invalid_value", "content_index")
        if audio_end_ms > part.audio_ms:
            raise BadEvent(f"audio_end_ms {audio_end_ms} is beyond the audio's {part.audio_ms} ms",
                           "invalid_value", "audio_end_ms")  # fmt: skip
        part.transcript = _heard(part, audio_end_ms)
        part.marks = [(m, min(c, len(part.transcript))) for m, c in part.marks if m <= audio_end_ms]
        part.marks.append((audio_end_ms, len(part.transcript)))

    def chat_messages(self, instructions: str) -> list[dict[str, Any]]:
        """The conversation as OpenAI chat messages (audio as its transcript)."""
        messages: list[dict[str, Any]] = [{"role": "system", "content": instructions}] if (
            instructions) else []  # fmt: skip
        for item in self.items:
            if item.type == "message":
                messages.append({"role": item.role, "content": item.model_text()})
            elif item.type == "function_call":
                function = {"name": item.name, "arguments": item.arguments or "{}"}
                call = {"id": item.call_id, "type": "function", "function": function}
                last = messages[-1] if messages else None
                if last and last["role"] == "assistant" and last.get("tool_calls") is not None:
                    last["tool_calls"].append(call)
                else:
                    messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
            else:
                messages.append({"role": "tool", "tool_call_id": item.call_id,
                                 "content": item.output or ""})  # fmt: skip
        return messages


def _heard(part: Part, audio_end_ms: int) -> str:
    """The transcript up to ``audio_end_ms``: whole sentences spoken by then, and the share of
    the sentence being spoken that its time says, cut at a word."""
    transcript = part.transcript or ""
    before_ms, before_chars = 0, 0
    for end_ms, chars in part.marks:
        if end_ms >= audio_end_ms:
            share = (audio_end_ms - before_ms) / max(1, end_ms - before_ms)
            cut = before_chars + int((chars - before_chars) * share)
            break
        before_ms, before_chars = end_ms, chars
    else:
        cut = len(transcript)
    text = transcript[:cut]
    if cut < len(transcript) and " " in text and not transcript[cut : cut + 1].isspace():
        text = text[: text.rfind(" ")]  # no half words
    return text.rstrip()
