"""The configured models: resolve a model id or OpenAI alias to its engine, and describe them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from stepaudio_api.engines.base import Engine, Recognizer, Synthesizer
from stepaudio_api.engines.chat import ChatEngine
from stepaudio_api.engines.registry import EngineRegistry
from stepaudio_api.errors import APIError, InvalidRequest, NotFound
from stepaudio_api.settings import Settings

Capability = Literal["speech", "transcription", "chat"]
_ENGINE_KIND: dict[Capability, type[Engine]] = {
    "speech": Synthesizer,
    "transcription": Recognizer,
    "chat": ChatEngine,
}


@dataclass(frozen=True, slots=True)
class ServedModel:
    id: str
    aliases: tuple[str, ...]
    description: str
    engine_name: str
    engine: Engine
    created: int

    @property
    def capability(self) -> Capability:
        return next(c for c, kind in _ENGINE_KIND.items() if isinstance(self.engine, kind))


class EngineUnavailable(APIError):
    status = 503
    type = "server_error"


class ModelCatalog:
    def __init__(self, settings: Settings, registry: EngineRegistry) -> None:
        self.registry = registry
        created = int(time.time())
        # models of engines no plugin provides are left out (the registry says why in /ready)
        self.models: list[ServedModel] = [
            ServedModel(
                m.id, tuple(m.aliases), m.description, m.engine, registry.engines[m.engine], created
            )
            for m in settings.models
            if m.engine in registry.engines
        ]
        self.by_name: dict[str, ServedModel] = {}
        for model in self.models:
            for name in (model.id, *model.aliases):
                self.by_name[name] = model

    def names_for(self, capability: Capability) -> list[str]:
        return [
            name
            for model in self.models
            if model.capability == capability
            for name in (model.id, *model.aliases)
        ]

    def cloning_models(self) -> list[str]:
        """The speech models whose engine speaks cloned voices (voice profiles)."""
        return [
            m.id
            for m in self.models
            if isinstance(m.engine, Synthesizer) and m.engine.clones_voices
        ]

    def get(self, name: str) -> ServedModel:
        model = self.by_name.get(name)
        if model is None:
            raise NotFound(
                f"The model '{name}' does not exist. Available models: " + ", ".join(self.by_name),
                param="model",
                code="model_not_found",
            )
        return model

    def resolve(self, name: str, capability: Capability) -> ServedModel:
        """The model for a request; a 404, 400 or 503 that says what to use instead."""
        model = self.get(name)
        if not isinstance(model.engine, _ENGINE_KIND[capability]):
            raise InvalidRequest(
                f"The model '{name}' cannot do {capability}. Models that can: "
                + ", ".join(self.names_for(capability)),
                param="model",
                code="model_not_supported",
            )
        state = self.registry.state[model.engine_name]
        if state.startswith("not configured"):
            raise EngineUnavailable(
                f"The model '{name}' is not available: {state.removeprefix('not configured: ')}",
                code="model_not_configured",
            )
        if state != "ready":
            raise EngineUnavailable(
                f"The model '{name}' is not available: its engine {model.engine_name} is {state}",
                code="engine_unavailable",
                headers={"Retry-After": "5"},
            )
        return model
