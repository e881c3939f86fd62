"""GET /health (the process answers) and GET /ready (engines loaded and warm, database up)."""

from __future__ import annotations

from litestar import Response, get

from stepaudio_api.api.dependencies import ServicesDependency
from stepaudio_api.api.openapi import documented


@get("/health", sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


@get("/ready", opt=documented(statuses={503: {"application/json": {"type": "object"}}}))
async def ready(services: ServicesDependency) -> Response[dict[str, object]]:
    engines = dict(services.engines.state)
    database = "ready" if await services.database.ping() else "unreachable"
    # an engine whose plugin is not installed, or a chat upstream nobody configured, does not
    # hold readiness back; it is listed with the reason
    loaded = [state for name, state in engines.items() if not services.engines.optional(name)]
    is_ready = all(state == "ready" for state in loaded) and database == "ready"
    pool = services.engines.pool
    body: dict[str, object] = {
        "status": "ready" if is_ready else "not_ready",
        "engines": engines,
        "database": {"dialect": services.database.dialect, "state": database},
        "workers": {
            "threads": pool.threads,
            "active_requests": pool.active_requests,
            "queue_depth": pool.queue_depth,
        },
        "realtime": services.realtime.parts.capacity.describe(),
    }
    return Response(body, status_code=200 if is_ready else 503)
