"""Server-sent events as OpenAI sends them: one JSON object per `data:` line."""

import msgspec


def sse_event(event: msgspec.Struct) -> bytes:
    return b"data: " + msgspec.json.encode(event) + b"\n\n"
