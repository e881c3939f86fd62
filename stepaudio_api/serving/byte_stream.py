"""What a serving object hands back: a content type and the body's bytes as they are made."""

from collections.abc import AsyncIterator
from dataclasses import dataclass


@dataclass(slots=True)
class ByteStream:
    content_type: str
    chunks: AsyncIterator[bytes]
    # The body is one chunk made whole (a transcript document), not a stream of parts.
    whole: bool = False
