"""The server process: uvicorn serving the application, and a drain when it is told to stop.

On SIGTERM (or SIGINT) uvicorn stops taking connections and would close every WebSocket at
once with 1012; first, here, each realtime session is told the server is going (an error
event), may finish the response it is making, and is closed with 1012; HTTP requests in flight
(streams included) meanwhile run on. All of it within ``server.shutdown_grace_seconds``,
after which what is left is cancelled and the store's last writes are waited for.
"""

from __future__ import annotations

import socket
import time

import uvicorn

from stepaudio_api.services import Services


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, services: Services) -> None:
        super().__init__(config)
        self.services = services

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        started = time.monotonic()
        for server in self.servers:  # no new connections from now on
            server.close()
        grace = self.services.settings.server.shutdown_grace_seconds
        await self.services.realtime.drain(grace)
        # what is left of the grace period is uvicorn's, for the HTTP requests in flight
        self.config.timeout_graceful_shutdown = max(0.5, grace - (time.monotonic() - started))
        await super().shutdown(sockets)


def serve(services: Services, app: object, host: str, port: int) -> None:
    settings = services.settings
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=host,
        port=port,
        log_level=settings.log_level,
        lifespan="on",
        # larger than realtime.max_event_bytes, so an oversized event gets an error event
        # rather than a dropped connection
        ws_max_size=settings.realtime.max_event_bytes + 1024 * 1024,
    )
    DrainingServer(config, services).run()
