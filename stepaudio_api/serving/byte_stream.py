"""What a serving object hands back: a content type and the body's bytes as they are made."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import msgspec

from stepaudio_api.errors import APIError
from stepaudio_api.protocol.errors import ErrorDetail


@dataclass(slots=True)
class ByteStream:
    content_type: str
    chunks: AsyncIterator[bytes]
    whole: bool = False
    """The body is one chunk made whole (a transcript document), not a stream of parts."""
    failure: Callable[[APIError], bytes] | None = None
    """How the stream says an error once its status line has gone (an SSE error event);
    None: it just ends, cleanly (an audio file cut short)."""
    headers: dict[str, str] = field(default_factory=dict)
    """Response headers beside the content type (speech's ``X-Stepaudio-Voice``)."""


def error_detail(exc: APIError) -> ErrorDetail:
    return ErrorDetail(message=exc.message, type=exc.type, param=exc.param, code=exc.code)


def sse_error_event(exc: APIError) -> bytes:
    """OpenAI's event streams report a failure as ``{"type": "error", "error": {...}}``; the
    SDK raises it as an APIError."""
    event = {"type": "error", "error": error_detail(exc)}
    return b"data: " + msgspec.json.encode(event) + b"\n\n"
