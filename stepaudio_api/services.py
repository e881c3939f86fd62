"""Everything one server process holds: plugins, engines, the store, one object per capability."""

from __future__ import annotations

from dataclasses import dataclass

import pluggy

from stepaudio_api.engines.registry import EngineRegistry
from stepaudio_api.metrics import Metrics
from stepaudio_api.plugins import get_plugin_manager
from stepaudio_api.serving.metering import BackgroundWrites, RequestMeter
from stepaudio_api.serving.models import ModelCatalog
from stepaudio_api.serving.speech import SpeechServing
from stepaudio_api.serving.transcription import TranscriptionServing
from stepaudio_api.serving.voices import VoiceServing
from stepaudio_api.settings import Settings
from stepaudio_api.store.api_keys import ApiKeyStore, Caller
from stepaudio_api.store.database import Database, database_url
from stepaudio_api.store.usage import UsageLedger
from stepaudio_api.store.voices import VoiceProfileStore


@dataclass
class Services:
    settings: Settings
    plugin_manager: pluggy.PluginManager
    engines: EngineRegistry
    models: ModelCatalog
    database: Database
    keys: ApiKeyStore
    usage: UsageLedger
    metrics: Metrics
    writes: BackgroundWrites
    speech: SpeechServing
    transcription: TranscriptionServing
    voices: VoiceServing

    @classmethod
    def build(cls, settings: Settings) -> Services:
        plugin_manager = get_plugin_manager(settings.plugins)
        engines = EngineRegistry(settings, plugin_manager)
        models = ModelCatalog(settings, engines)
        database = Database(database_url(settings))
        metrics = Metrics()
        metrics.watch_engines(engines.pool_figures)
        profiles = VoiceProfileStore(database)
        return cls(
            settings=settings,
            plugin_manager=plugin_manager,
            engines=engines,
            models=models,
            database=database,
            keys=ApiKeyStore(database, settings.auth.key_cache_seconds),
            usage=UsageLedger(database),
            metrics=metrics,
            writes=BackgroundWrites(),
            speech=SpeechServing(settings, models, profiles),
            transcription=TranscriptionServing(models),
            voices=VoiceServing(settings, models, profiles),
        )

    def meter(self, caller: Caller, request_id: str, capability: str) -> RequestMeter:
        return RequestMeter(self.usage, self.metrics, self.writes, caller, request_id, capability)
