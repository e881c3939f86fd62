"""GET /health (the process answers) and GET /ready (every engine is loaded and warm)."""

from __future__ import annotations

from litestar import Response, get

from stepaudio_api.services import Services


@get("/health", sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


@get("/ready", sync_to_thread=False)
def ready(services: Services) -> Response[dict[str, object]]:
    engines = dict(services.engines.state)
    is_ready = all(state == "ready" for state in engines.values())
    pool = services.engines.pool
    body: dict[str, object] = {
        "status": "ready" if is_ready else "not_ready",
        "engines": engines,
        "workers": {
            "threads": pool.threads,
            "active_requests": pool.active_requests,
            "queue_depth": pool.queue_depth,
        },
    }
    return Response(body, status_code=200 if is_ready else 503)
