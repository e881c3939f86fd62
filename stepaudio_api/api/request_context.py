"""Every request, the WebSocket included: give it an id, find the caller, enforce auth."""

from __future__ import annotations

import secrets
from typing import Any

import msgspec
from litestar.types import ASGIApp, Receive, Scope, Send

from stepaudio_api.errors import APIError, AuthenticationFailed, PermissionDenied
from stepaudio_api.protocol.errors import ErrorDetail, ErrorResponse
from stepaudio_api.services import Services
from stepaudio_api.store.api_keys import ANONYMOUS, Caller

CALLER = "stepaudio.caller"
REQUEST_ID = "stepaudio.request_id"
ADMIN_PREFIX = "/admin"
KEY_SUBPROTOCOL = "openai-insecure-api-key."


def _bearer_token(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    if scope["type"] == "websocket":
        for subprotocol in scope.get("subprotocols", ()):
            if subprotocol.startswith(KEY_SUBPROTOCOL):
                return subprotocol[len(KEY_SUBPROTOCOL) :]
    return None


def _redacted(token: str) -> str:
    return f"{token[:6]}***{token[-4:]}" if len(token) > 12 else "***"


class RequestContext:
    """ASGI middleware. Auth lives here, in front of every route handler, so that no route can
    forget it: a missing, unknown or revoked key is a 401 when auth is required, and admin
    routes always need a key with the admin scope (403 for a user key)."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services
        self.keys = services.keys
        self.required = services.settings.auth_required
        self.public_paths = frozenset(services.settings.auth.public_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = "req_" + secrets.token_hex(16)
        scope[REQUEST_ID] = request_id  # type: ignore[literal-required]
        try:
            scope[CALLER] = await self._caller(scope)  # type: ignore[literal-required]
        except APIError as error:
            await self._refuse(scope, receive, send, error, request_id)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        await self.app(scope, receive, send_with_id)

    async def _caller(self, scope: Scope) -> Caller:
        path: str = scope["path"]
        admin = path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")
        if not admin and path in self.public_paths:
            return ANONYMOUS
        token = _bearer_token(scope)
        caller = await self.keys.verify(token) if token else None
        if caller is None and token:
            # keys the store does not know may be known to a plugin (a JWT, an SSO token)
            caller = self.services.plugins.first(
                "authenticate", token=token, services=self.services
            )
        if caller is None and (admin or self.required):
            if token is None:
                raise AuthenticationFailed(
                    "You didn't provide an API key. You need to provide your API key in an "
                    "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)",
                    code="missing_api_key",
                )
            raise AuthenticationFailed(
                f"Incorrect API key provided: {_redacted(token)}. The key is unknown or has "
                "been revoked.",
                code="invalid_api_key",
            )
        if admin and caller is not None and not caller.is_admin:
            raise PermissionDenied(
                f"The API key '{caller.name}' has the user scope; {path} needs a key with the "
                "admin scope",
                code="insufficient_permissions",
            )
        return caller or ANONYMOUS

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, error: APIError, request_id: str
    ) -> None:
        body = msgspec.json.encode(
            ErrorResponse(ErrorDetail(error.message, error.type, error.param, error.code))
        )
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", request_id.encode()),
        ]
        if error.status == 401:
            headers.append((b"www-authenticate", b'Bearer realm="stepaudio-api"'))
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": error.status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        # A WebSocket is refused at the handshake: with the HTTP status where the server
        # supports the denial-response extension (uvicorn does), else a policy-violation close.
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        if "websocket.http.response" in scope.get("extensions", {}) or {}:
            start = {"type": "websocket.http.response.start", "status": error.status}
            await send({**start, "headers": headers})  # type: ignore[typeddict-item]
            await send({"type": "websocket.http.response.body", "body": body})  # type: ignore[typeddict-item]
        else:
            await send({"type": "websocket.close", "code": 1008, "reason": error.message[:120]})


def caller_of(connection: Any) -> Caller:
    """The caller the middleware found for this request or WebSocket."""
    return connection.scope.get(CALLER, ANONYMOUS)


def request_id_of(connection: Any) -> str:
    return connection.scope.get(REQUEST_ID) or "req_" + secrets.token_hex(16)
