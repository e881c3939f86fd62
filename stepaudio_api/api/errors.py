"""Every error leaves in OpenAI's shape: {"error": {"message", "type", "param", "code"}}."""

from __future__ import annotations

import logging

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException

from stepaudio_api.errors import APIError, EngineFailure, StoreUnavailable
from stepaudio_api.protocol.errors import ErrorDetail, ErrorResponse
from stepaudio_api.store.database import is_unreachable

logger = logging.getLogger(__name__)


def error_response(
    status: int,
    message: str,
    type_: str,
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response[bytes]:
    body = ErrorResponse(ErrorDetail(message=message, type=type_, param=param, code=code))
    return Response(
        msgspec.json.encode(body), status_code=status, media_type="application/json",
        headers=headers,
    )  # fmt: skip


def handle_api_error(request: Request, exc: APIError) -> Response[bytes]:
    return error_response(exc.status, exc.message, exc.type, exc.param, exc.code, exc.headers)


def handle_http_exception(request: Request, exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    if status == 404:
        message = f"Invalid URL ({request.method} {request.url.path})"
        return error_response(404, message, "invalid_request_error", code="unknown_url")
    if status == 405:
        allowed = (exc.headers or {}).get("allow", "")
        message = f"Method {request.method} is not allowed on {request.url.path}" + (
            f"; allowed: {allowed}" if allowed else "")  # fmt: skip
        return error_response(405, message, "invalid_request_error", code="method_not_allowed",
                              headers={"Allow": allowed} if allowed else None)  # fmt: skip
    if status == 413:
        limit = request.route_handler.resolve_request_max_body_size()
        message = f"The request body is larger than this route's limit of {limit} bytes"
        return error_response(413, message, "invalid_request_error", code="request_too_large")
    if status >= 500:
        logger.error("HTTP %s on %s: %s", status, request.url.path, exc.detail)
        return error_response(status, "The server had an error", "server_error")
    return error_response(status, exc.detail, "invalid_request_error", headers=exc.headers)


def as_api_error(exc: Exception) -> APIError:
    """Any exception as the error a client is told: its own if it is one, a 503 when the
    store is unreachable, else a 500 in general words (and the exception logged)."""
    if isinstance(exc, APIError):
        return exc
    if is_unreachable(exc):
        logger.warning("the database is unreachable: %s", exc)
        return StoreUnavailable()
    logger.error("unexpected error", exc_info=exc)
    return EngineFailure("The server had an error while processing your request",
                         code="server_error")  # fmt: skip


def handle_unexpected(request: Request, exc: Exception) -> Response[bytes]:
    if is_unreachable(exc):
        logger.warning("%s %s: the database is unreachable (%s)", request.method,
                       request.url.path, exc)  # fmt: skip
        return handle_api_error(request, StoreUnavailable())
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(
        500, "The server had an error while processing your request", "server_error"
    )


EXCEPTION_HANDLERS = {
    APIError: handle_api_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
