"""Start a streamed response only once its first bytes exist, so errors still get a status; an
error after that ends the stream the way its protocol says errors (or just ends it)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from litestar.response import Stream

from stepaudio_api.errors import APIError, EngineFailure
from stepaudio_api.serving.byte_stream import ByteStream

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
logger = logging.getLogger(__name__)


async def _chain(first: bytes, stream: ByteStream) -> AsyncIterator[bytes]:
    yield first
    try:
        async for chunk in stream.chunks:
            yield chunk
    except Exception as exc:  # a client that leaves (CancelledError) is not caught
        if not isinstance(exc, APIError):
            logger.error("a %s stream failed after it began", stream.content_type, exc_info=exc)
            exc = EngineFailure("The server had an error while making this response; the "
                                "rest of it could not be made", code="server_error")  # fmt: skip
        if stream.failure is not None:
            yield stream.failure(exc)


async def start_streaming(stream: ByteStream) -> Stream:
    """Run the stream up to its first chunk: refusals (overload, bad audio) raise here, before
    the status line is sent. Closing the connection cancels the rest."""
    first = await anext(stream.chunks, b"")
    headers = SSE_HEADERS if stream.content_type == "text/event-stream" else {}
    return Stream(
        _chain(first, stream), media_type=stream.content_type, headers=headers | stream.headers
    )
