"""Start a streamed response only once its first bytes exist, so errors still get a status."""

from __future__ import annotations

from collections.abc import AsyncIterator

from litestar.response import Stream

from stepaudio_api.serving.byte_stream import ByteStream

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def _chain(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for chunk in rest:
        yield chunk


async def start_streaming(stream: ByteStream) -> Stream:
    """Run the stream up to its first chunk: refusals (overload, bad audio) raise here, before
    the status line is sent. Closing the connection cancels the rest."""
    first = await anext(stream.chunks, b"")
    headers = SSE_HEADERS if stream.content_type == "text/event-stream" else None
    return Stream(_chain(first, stream.chunks), media_type=stream.content_type, headers=headers)
