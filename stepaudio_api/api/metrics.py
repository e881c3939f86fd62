"""GET /metrics (Prometheus text format) and the middleware that counts every request."""

from __future__ import annotations

import time
from typing import Any

from litestar import Response, get
from litestar.types import ASGIApp, Receive, Scope, Send
from prometheus_client import CONTENT_TYPE_LATEST

from stepaudio_api.api.dependencies import ServicesDependency
from stepaudio_api.api.openapi import TEXT, documented
from stepaudio_api.metrics import Metrics


class CountRequests:
    """ASGI middleware: requests by route template and status, and their durations."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 101 if scope["type"] == "websocket" else 500

        async def send_counting(message: Any) -> None:
            nonlocal status
            if message["type"] in ("http.response.start", "websocket.http.response.start"):
                status = message["status"]
            elif message["type"] == "websocket.close" and status == 101:
                status = 403
            await send(message)

        try:
            await self.app(scope, receive, send_counting)
        finally:
            route = scope.get("path_template") or "(unrouted)"
            method = scope.get("method", "WEBSOCKET")
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)


@get("/metrics", sync_to_thread=False, opt=documented(answers={"text/plain": TEXT}))
def metrics(services: ServicesDependency) -> Response[bytes]:
    return Response(services.metrics.render(), media_type=CONTENT_TYPE_LATEST)
