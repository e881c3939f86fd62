"""create_app(): the Litestar application, its routes, middleware, and the lifespan that loads
the engines and opens the store."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide
from litestar.types import ASGIApp

from stepaudio_api.api import (
    admin_keys,
    admin_plugins,
    admin_sessions,
    admin_tools,
    admin_usage,
    admin_voice_consents,
    admin_voices,
    chat,
    health,
    metrics,
    models,
    openapi,
    realtime,
    speech,
    transcription,
    voice_consents,
    voices,
)
from stepaudio_api.api.errors import EXCEPTION_HANDLERS
from stepaudio_api.api.openapi import complete_document
from stepaudio_api.api.request_context import RequestContext
from stepaudio_api.services import Services
from stepaudio_api.settings import Settings, load_settings

logger = logging.getLogger(__name__)


def create_litestar(services: Services) -> Litestar:
    settings = services.settings

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # SQLite serves one process, so every `reserved` record was left by a killed one;
        # on a shared PostgreSQL only records older than any request can be.
        sqlite = services.database.dialect == "sqlite"
        age = dt.timedelta(0) if sqlite else dt.timedelta(minutes=30)
        if interrupted := await services.usage.mark_interrupted(age):
            logger.warning("%d usage records were left by an interrupted server", interrupted)
        complete_document(app, settings.auth.public_paths)
        await services.engines.start()
        await services.plugins.notify("startup", services=services)
        try:
            yield
        finally:
            await services.plugins.notify("shutdown", services=services)
            await services.engines.aclose()
            await services.writes.drain(within_seconds=5.0)
            await services.database.dispose()

    return Litestar(
        route_handlers=[
            health.health,
            health.ready,
            metrics.metrics,
            models.list_models,
            models.retrieve_model,
            speech.create_speech,
            chat.chat_router(settings.chat.max_request_bytes),
            realtime.realtime,
            transcription.upload_router(settings.server.max_upload_bytes),
            voices.voices_router(settings.voices.max_upload_bytes),
            voice_consents.voice_consents_router(settings.voices.max_upload_bytes),
            admin_keys.keys_router,
            admin_usage.usage_router,
            admin_voices.admin_voices_router(settings.voices.max_upload_bytes),
            admin_voice_consents.admin_voice_consents_router,
            admin_plugins.list_plugins,
            admin_tools.tools_router,
            admin_sessions.sessions_router,
            openapi.openapi_json,
            openapi.docs_assets_router(),
        ],
        dependencies={"services": Provide(lambda: services, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=[lifespan],
        request_max_body_size=settings.server.max_json_bytes,
        openapi_config=openapi.openapi_config(),
        # logging is configured once by the command line (log_level); Litestar's own default
        # configuration would replace it and log at INFO whatever was asked
        logging_config=None,
        state={"services": services},
    )


def create_app(settings: Settings | None = None, services: Services | None = None) -> ASGIApp:
    """The whole application: Litestar inside the middleware every request passes through
    (metrics outermost, then auth), so no route, WebSocket or unknown URL escapes auth."""
    services = services or Services.build(settings or load_settings())
    app: ASGIApp = create_litestar(services)
    app = RequestContext(app, services)
    return metrics.CountRequests(app, services.metrics)
