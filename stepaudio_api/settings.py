"""Settings: configs/default.toml, overlaid by --config FILE, overlaid by STEPAUDIO_* variables."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

DEFAULT_CONFIG_PATH = Path(__file__).with_name("default.toml")
ENV_PREFIX = "STEPAUDIO_"
CHAT_UPSTREAM_ENGINE = "chat-upstream"
ENV_SHORTCUTS: dict[str, tuple[str, ...]] = {
    "STEPAUDIO_CHAT_BASE_URL": ("engines", CHAT_UPSTREAM_ENGINE, "base_url"),
    "STEPAUDIO_CHAT_MODEL": ("engines", CHAT_UPSTREAM_ENGINE, "model"),
    "STEPAUDIO_CHAT_API_KEY": ("engines", CHAT_UPSTREAM_ENGINE, "api_key"),
}
"""The quickest way to give step-audio-chat a brain: these set the chat upstream engine's
options (read as plain strings), whatever the configuration file says."""


class ServerSettings(msgspec.Struct, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: int = 8000
    max_upload_bytes: int = 25 * 1024 * 1024
    max_json_bytes: int = 1024 * 1024
    # On SIGTERM: how long realtime sessions and requests in flight have to finish.
    shutdown_grace_seconds: float = 10.0


class WorkerSettings(msgspec.Struct, forbid_unknown_fields=True):
    threads: int = 2
    queue_size: int = 8
    retry_after_seconds: int = 1


class SpeechSettings(msgspec.Struct, forbid_unknown_fields=True):
    max_input_characters: int = 4096
    voice_aliases: dict[str, str] = {}


class AuthSettings(msgspec.Struct, forbid_unknown_fields=True):
    # Paths answered without a key even when auth is required (liveness probes).
    public_paths: list[str] = msgspec.field(default_factory=lambda: ["/health"])
    # Seconds a verified key is trusted before the store is asked again (revocations made in
    # this process apply at once; those made by another process after this long).
    key_cache_seconds: float = 5.0


class VoiceSettings(msgspec.Struct, forbid_unknown_fields=True):
    max_upload_bytes: int = 10 * 1024 * 1024
    # Step-Audio's own 3.1 s prompt clip (zh_lixueqin) holds 2.3 s of speech by VAD.
    min_speech_seconds: float = 2.0
    max_speech_seconds: float = 30.0
    # Reference clips are stored at this rate, mono, normalised to this loudness (EBU R128).
    sample_rate: int = 24000
    loudness_lufs: float = -23.0
    denoise: bool = False
    # The model that writes a transcript for clips uploaded without one.
    transcription_model: str = "step-audio-asr"


class ChatSettings(msgspec.Struct, forbid_unknown_fields=True):
    # The model that speaks replies when a request asks for audio (its voices and controls).
    speech_model: str = "step-audio-tts"
    # The model that turns input_audio content parts into the text the upstream is sent.
    transcription_model: str = "step-audio-asr-multilingual"
    # Chat bodies carry audio as base64, so they may be larger than other JSON bodies.
    max_request_bytes: int = 20 * 1024 * 1024
    # How long a spoken reply can be referred to by its audio.id in later turns.
    audio_retention_seconds: int = 3600
    # Plugin tools offered to the model ("*": all); the model's calls to them are run here.
    server_tools: list[str] = msgspec.field(default_factory=lambda: ["*"])
    tool_timeout_seconds: float = 10.0
    # Upstream rounds with server-side tool calls before the model must answer.
    max_tool_rounds: int = 4
    # In streamed audio, a tool that takes longer than this gets a spoken acknowledgement.
    acknowledgement_after_seconds: float = 0.4
    acknowledgement: str = "One moment, please."
    # Tokens kept free for the answer when a request sets no max_tokens.
    reply_tokens: int = 1024


class RealtimeSettings(msgspec.Struct, forbid_unknown_fields=True):
    # The models that hear the user (the conversation's own transcripts) and speak replies.
    transcription_model: str = "step-audio-asr"
    speech_model: str = "step-audio-tts"
    # Open realtime sessions one key may hold on one server.
    max_sessions_per_key: int = 4
    # One client event at most (an append carries up to 15 MiB of audio as base64).
    max_event_bytes: int = 21 * 1024 * 1024
    # A pause this long inside a turn starts a speculative response (0: never).
    speculate_after_ms: int = 160
    # The most conversations open at once on this server; 0: sessions_per_core x its cores.
    max_sessions: int = 0
    # Talking sessions one core answers (95% of turns within answer_within_seconds), as
    # bench/realtime_capacity.py --capacity measures it for the embedded engines.
    sessions_per_core: float = 8.0
    answer_within_seconds: float = 1.5
    # Refuse new sessions while recent turns are answered slower than that.
    shed_load: bool = True


class ModelSettings(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    engine: str
    aliases: list[str] = []
    description: str = ""


class Settings(msgspec.Struct, forbid_unknown_fields=True):
    data_dir: str = "data"
    log_level: str = "info"
    plugins: list[str] | None = None
    # log every plugin hook call (STEPAUDIO_TRACE_PLUGINS=1)
    trace_plugins: bool = False
    # "" means SQLite at <data_dir>/stepaudio.db; PostgreSQL: postgresql+asyncpg://user@host/db
    database_url: str = ""
    auth_required: bool = False
    auth: AuthSettings = msgspec.field(default_factory=AuthSettings)
    voices: VoiceSettings = msgspec.field(default_factory=VoiceSettings)
    server: ServerSettings = msgspec.field(default_factory=ServerSettings)
    workers: WorkerSettings = msgspec.field(default_factory=WorkerSettings)
    speech: SpeechSettings = msgspec.field(default_factory=SpeechSettings)
    chat: ChatSettings = msgspec.field(default_factory=ChatSettings)
    realtime: RealtimeSettings = msgspec.field(default_factory=RealtimeSettings)
    # plugin name -> its options, e.g. [plugin_options.tools] weather_base_url = "..."
    plugin_options: dict[str, dict[str, Any]] = {}
    # engine instance name -> {"type": registered engine type, **options}
    engines: dict[str, dict[str, Any]] = {}
    models: list[ModelSettings] = []


class SettingsError(ValueError):
    """The configuration is invalid; the message names the key."""


def _merge(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _parse_env_value(raw: str) -> Any:
    """Read an environment value as a TOML value (numbers, booleans, arrays), else as a string."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        if raw.startswith("[") or raw.startswith("{"):
            raise SettingsError(f"cannot parse {raw!r} as a TOML value") from None
        return raw


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX + "CONFIG":
            continue
        if name.startswith(ENV_PREFIX + "TEST_"):
            continue  # the test suite's own variables (STEPAUDIO_TEST_POSTGRES_URL)
        if name in ENV_SHORTCUTS:
            *tables, key = ENV_SHORTCUTS[name]
            target = overrides
            for table in tables:
                target = target.setdefault(table, {})
            target[key] = raw
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        target = overrides
        for part in path[:-1]:
            target = target.setdefault(part, {})
        if path[-1] == "plugins":
            target["plugins"] = [p.strip() for p in raw.split(",") if p.strip()]
        else:
            target[path[-1]] = _parse_env_value(raw)
    return overrides


def load_settings(
    config_file: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    environ = os.environ if environ is None else environ
    raw = tomllib.loads(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))
    config_file = config_file or environ.get(ENV_PREFIX + "CONFIG")
    if config_file:
        path = Path(config_file)
        try:
            raw = _merge(raw, tomllib.loads(path.read_text(encoding="utf-8")))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"cannot read config file {path}: {exc}") from exc
    raw = _merge(raw, _env_overrides(environ))
    try:
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"invalid configuration: {exc}") from exc
    _check(settings)
    return settings


def _check(settings: Settings) -> None:
    seen: set[str] = set()
    for model in settings.models:
        if model.engine not in settings.engines:
            raise SettingsError(f"model {model.id!r} names unknown engine {model.engine!r}")
        for name in (model.id, *model.aliases):
            if name in seen:
                raise SettingsError(f"model name {name!r} is declared twice")
            seen.add(name)
    for name, options in settings.engines.items():
        if not isinstance(options.get("type"), str):
            raise SettingsError(f"engine {name!r} needs a `type`")
    if settings.workers.threads < 1 or settings.workers.queue_size < 0:
        raise SettingsError("workers.threads must be >= 1 and workers.queue_size >= 0")
