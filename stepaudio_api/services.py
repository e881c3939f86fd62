"""Everything one server process holds: plugins, engines, and one serving object per capability."""

from __future__ import annotations

from dataclasses import dataclass

import pluggy

from stepaudio_api.engines.registry import EngineRegistry
from stepaudio_api.plugins import get_plugin_manager
from stepaudio_api.serving.models import ModelCatalog
from stepaudio_api.serving.speech import SpeechServing
from stepaudio_api.serving.transcription import TranscriptionServing
from stepaudio_api.settings import Settings


@dataclass
class Services:
    settings: Settings
    plugin_manager: pluggy.PluginManager
    engines: EngineRegistry
    models: ModelCatalog
    speech: SpeechServing
    transcription: TranscriptionServing

    @classmethod
    def build(cls, settings: Settings) -> Services:
        plugin_manager = get_plugin_manager(settings.plugins)
        engines = EngineRegistry(settings, plugin_manager)
        models = ModelCatalog(settings, engines)
        return cls(
            settings=settings,
            plugin_manager=plugin_manager,
            engines=engines,
            models=models,
            speech=SpeechServing(settings, models),
            transcription=TranscriptionServing(models),
        )
