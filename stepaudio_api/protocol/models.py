"""GET /v1/models and /v1/models/{id}."""

from typing import Any

import msgspec


class ModelObject(msgspec.Struct):
    id: str
    created: int
    owned_by: str = "stepaudio-api"
    object: str = "model"
    # ours: what the model can do, and which model an OpenAI alias stands for
    capabilities: dict[str, Any] = {}
    alias_of: str | None = None
    description: str | None = None


class ModelList(msgspec.Struct):
    data: list[ModelObject]
    object: str = "list"
