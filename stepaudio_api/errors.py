"""Errors every layer may raise, carrying what OpenAI's error shape needs; api/ renders them."""

from __future__ import annotations


class APIError(Exception):
    """An error the client sees as {"error": {"message", "type", "param", "code"}}."""

    status: int = 400
    type: str = "invalid_request_error"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        if status is not None:
            self.status = status
        self.headers = headers or {}


class InvalidRequest(APIError):
    status = 400


class NotFound(APIError):
    status = 404


class PayloadTooLarge(APIError):
    status = 413


class UnsupportedMediaType(APIError):
    status = 415


class EngineOverloaded(APIError):
    """Every worker is busy and the waiting line is full: come back after Retry-After."""

    status = 503
    type = "server_error"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(
            message, code="engine_overloaded", headers={"Retry-After": str(retry_after)}
        )
        self.retry_after = retry_after


class EngineFailure(APIError):
    status = 500
    type = "server_error"


class AuthenticationFailed(APIError):
    status = 401


class PermissionDenied(APIError):
    status = 403


class Conflict(APIError):
    status = 409


class QuotaExceeded(APIError):
    """The key's monthly quota cannot cover this request (OpenAI's 429 insufficient_quota)."""

    status = 429
    type = "insufficient_quota"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(
            message, code="insufficient_quota", headers={"Retry-After": str(retry_after)}
        )


class GatewayTimeout(APIError):
    """Something the server waits on (an upstream service, a tool) did not answer in time."""

    status = 504
    type = "server_error"


class UpstreamError(APIError):
    """A service we forward to (an OpenAI-compatible chat upstream) failed or broke off."""

    status = 502
    type = "server_error"

    def __init__(self, message: str) -> None:
        super().__init__(message, code="upstream_error")


class UpstreamUnavailable(APIError):
    """An upstream cannot be reached or is resting after repeated failures: retry later."""

    status = 503
    type = "server_error"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(
            message, code="upstream_unavailable", headers={"Retry-After": str(retry_after)}
        )
        self.retry_after = retry_after


class UpstreamTimeout(GatewayTimeout):
    """An upstream did not answer (or send its first token) in time."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="upstream_timeout")


class StoreUnavailable(APIError):
    """The database cannot be reached for now (a restart, a network fault): retry shortly."""

    status = 503
    type = "server_error"

    def __init__(self) -> None:
        super().__init__(
            "The server's database cannot be reached at the moment; nothing was done, "
            "retry shortly", code="database_unavailable", headers={"Retry-After": "2"},
        )  # fmt: skip
