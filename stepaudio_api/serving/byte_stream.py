"""What a serving object hands back: a content type and the body's bytes as they are made."""

from collections.abc import AsyncIterator
from dataclasses import dataclass


@dataclass(slots=True)
class ByteStream:
    content_type: str
    chunks: AsyncIterator[bytes]
