"""create_app(): the Litestar application, its routes, and the lifespan that loads the engines."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide

from stepaudio_api.api import health, models, speech, transcription
from stepaudio_api.api.errors import EXCEPTION_HANDLERS
from stepaudio_api.services import Services
from stepaudio_api.settings import Settings, load_settings

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or load_settings()
    services = Services.build(settings)

    @asynccontextmanager
    async def load_engines(app: Litestar) -> AsyncIterator[None]:
        await services.engines.start()
        try:
            yield
        finally:
            services.engines.shutdown()

    return Litestar(
        route_handlers=[
            health.health,
            health.ready,
            models.list_models,
            models.retrieve_model,
            speech.create_speech,
            transcription.upload_router(settings.server.max_upload_bytes),
        ],
        dependencies={"services": Provide(lambda: services, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=[load_engines],
        request_max_body_size=settings.server.max_json_bytes,
        openapi_config=None,
        state={"services": services},
    )
