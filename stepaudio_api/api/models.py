"""GET /v1/models and /v1/models/{id}."""

from __future__ import annotations

from litestar import get
from litestar.params import FromPath

from stepaudio_api.api.dependencies import ServicesDependency
from stepaudio_api.protocol.models import ModelList, ModelObject
from stepaudio_api.serving.models import ServedModel


def _objects(model: ServedModel, services: ServicesDependency) -> list[ModelObject]:
    capabilities = {
        **model.engine.describe(),
        "engine": model.engine_name,
        "engine_type": model.engine.type,
        "state": services.engines.state[model.engine_name],
    }
    if model.capability == "speech":
        own = set(capabilities["voices"])
        aliases = services.settings.speech.voice_aliases
        capabilities["openai_voices"] = {k: v for k, v in aliases.items() if v in own}
        capabilities["controls"] = services.speech.router.controls(model)
    main = ModelObject(
        id=model.id, created=model.created, capabilities=capabilities,
        description=model.description or None,
    )  # fmt: skip
    aliases = [
        ModelObject(id=alias, created=model.created, capabilities=capabilities, alias_of=model.id)
        for alias in model.aliases
    ]
    return [main, *aliases]


@get("/v1/models", sync_to_thread=False)
def list_models(services: ServicesDependency) -> ModelList:
    return ModelList(data=[obj for m in services.models.models for obj in _objects(m, services)])


@get("/v1/models/{model_id:str}", sync_to_thread=False)
def retrieve_model(model_id: FromPath[str], services: ServicesDependency) -> ModelObject:
    model = services.models.get(model_id)
    return next(obj for obj in _objects(model, services) if obj.id == model_id)
