"""/admin/sessions: realtime sessions (newest first) and one session with its conversation."""

from __future__ import annotations

from typing import Any

from litestar import Router, get
from litestar.params import FromPath, FromQuery

from stepaudio_api.api.dependencies import ServicesDependency
from stepaudio_api.errors import InvalidRequest, NotFound


@get("/")
async def list_sessions(
    services: ServicesDependency, limit: FromQuery[int] = 50, key_id: FromQuery[str | None] = None
) -> dict[str, Any]:
    if not 1 <= limit <= 1000:
        raise InvalidRequest("limit must be from 1 to 1000", param="limit")
    data = await services.sessions.list(limit=limit, key_id=key_id)
    return {"object": "list", "data": data}


@get("/{session_id:str}")
async def get_session(session_id: FromPath[str], services: ServicesDependency) -> dict[str, Any]:
    session = await services.sessions.get(session_id)
    if session is None:
        raise NotFound(f"No realtime session '{session_id}'", param="session_id",
                       code="session_not_found")  # fmt: skip
    return session


sessions_router = Router("/admin/sessions", route_handlers=[list_sessions, get_session])
