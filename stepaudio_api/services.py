"""Everything one server process holds: plugins, engines, the store, one object per capability."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from stepaudio_api.engines.registry import EngineRegistry
from stepaudio_api.extensions.dialects import DialectRegistry
from stepaudio_api.extensions.tools import ToolRegistry
from stepaudio_api.extensions.voices import VoicePackRegistry
from stepaudio_api.metrics import Metrics
from stepaudio_api.plugins import Plugins, get_plugin_manager
from stepaudio_api.serving.chat import ChatServing
from stepaudio_api.serving.metering import BackgroundWrites, RequestMeter
from stepaudio_api.serving.models import ModelCatalog
from stepaudio_api.serving.realtime.serving import RealtimeServing
from stepaudio_api.serving.realtime.session_parts import SessionParts
from stepaudio_api.serving.speech import SpeechServing
from stepaudio_api.serving.transcription import TranscriptionServing
from stepaudio_api.serving.voice_consents import VoiceConsentServing
from stepaudio_api.serving.voices import VoiceServing
from stepaudio_api.settings import Settings
from stepaudio_api.store.api_keys import ApiKeyStore, Caller
from stepaudio_api.store.chat_audio import ChatAudioStore
from stepaudio_api.store.codec_prompts import CodecPromptStore
from stepaudio_api.store.database import Database, database_url
from stepaudio_api.store.realtime_sessions import RealtimeSessionStore
from stepaudio_api.store.usage import UsageLedger
from stepaudio_api.store.voice_consents import VoiceConsentStore
from stepaudio_api.store.voices import VoiceProfileStore


@dataclass
class Services:
    settings: Settings
    plugins: Plugins
    dialects: DialectRegistry
    tools: ToolRegistry
    voice_packs: VoicePackRegistry
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
    chat: ChatServing
    realtime: RealtimeServing
    sessions: RealtimeSessionStore
    voice_consents: VoiceConsentServing

    @classmethod
    def build(cls, settings: Settings, extra_plugins: dict[str, object] | None = None) -> Services:
        plugins = get_plugin_manager(settings.plugins, extra_plugins, settings.trace_plugins)
        dialects, tools, voice_packs = DialectRegistry(), ToolRegistry(), VoicePackRegistry()
        plugins.register_all("register_dialects", "dialects", dialects.register, settings=settings)
        plugins.register_all("register_tools", "tools", tools.register, settings=settings)
        plugins.register_all("register_voices", "voices", voice_packs.register, settings=settings)
        engines = EngineRegistry(settings, plugins)
        models = ModelCatalog(settings, engines)
        database = Database(database_url(settings))
        metrics = Metrics()
        metrics.watch_engines(engines.pool_figures)
        profiles = VoiceProfileStore(database)
        codec_prompts = CodecPromptStore(database)
        speech = SpeechServing(settings, models, profiles, dialects, voice_packs, codec_prompts)
        chat = ChatServing(settings, models, speech, tools, ChatAudioStore(database))
        writes = BackgroundWrites()
        sessions = RealtimeSessionStore(database)
        parts = SessionParts(settings, models, speech, tools, sessions, writes)
        services = cls(
            settings=settings,
            plugins=plugins,
            dialects=dialects,
            tools=tools,
            voice_packs=voice_packs,
            engines=engines,
            models=models,
            database=database,
            keys=ApiKeyStore(database, settings.auth.key_cache_seconds),
            usage=UsageLedger(database),
            metrics=metrics,
            writes=writes,
            speech=speech,
            transcription=TranscriptionServing(models),
            voices=VoiceServing(settings, models, profiles, voice_packs, codec_prompts),
            chat=chat,
            realtime=RealtimeServing(settings, models, parts),
            sessions=sessions,
            voice_consents=VoiceConsentServing(settings, engines.pool, VoiceConsentStore(database)),
        )
        metrics.watch_server(services.process_figures)
        return services

    def process_figures(self) -> dict[str, float]:
        """Read at each scrape of /metrics (on the event loop)."""
        pool = self.database.engine.pool
        return {
            "asyncio_tasks": len(asyncio.all_tasks()),
            "database_connections_checked_out": getattr(pool, "checkedout", lambda: 0)(),
            "database_connections_open": getattr(pool, "checkedin", lambda: 0)()
            + getattr(pool, "checkedout", lambda: 0)(),
            "realtime_sessions": len(self.realtime.sessions),
            "background_writes": len(self.writes.tasks),
        }

    def meter(self, caller: Caller, request_id: str, capability: str) -> RequestMeter:
        return RequestMeter(
            self.usage, self.metrics, self.writes, caller, request_id, capability,
            observers=self._usage_recorded if self._observed else None,
        )  # fmt: skip

    @property
    def _observed(self) -> bool:
        return bool(self.plugins.hook.usage_recorded.get_hookimpls())

    async def _usage_recorded(self, record: dict[str, Any]) -> None:
        await self.plugins.notify("usage_recorded", record=record)
