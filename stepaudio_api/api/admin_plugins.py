"""GET /admin/plugins: the loaded plugins, their versions, hooks, registrations and errors."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from litestar import get

from stepaudio_api.api.dependencies import ServicesDependency


@get("/admin/plugins")
async def list_plugins(services: ServicesDependency) -> dict[str, Any]:
    return {"object": "list", "data": [asdict(p) for p in services.plugins.describe()]}
