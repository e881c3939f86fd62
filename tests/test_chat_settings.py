"""Chat settings: the STEPAUDIO_CHAT_* shortcuts, [chat] defaults, and the upstream chat engine."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from stepaudio_api.engines import WorkerPool
from stepaudio_api.engines.base import EngineNotConfigured
from stepaudio_api.engines.upstream_chat import UpstreamChatEngine
from stepaudio_api.settings import load_settings


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    workers = WorkerPool(1, 1)
    yield workers
    workers.shutdown()


def test_chat_environment_shortcuts_set_the_upstream_engine() -> None:
    settings = load_settings(
        environ={
            "STEPAUDIO_CHAT_BASE_URL": "http://gpu-1:30000/v1",
            "STEPAUDIO_CHAT_MODEL": "step-audio-2-mini",
            "STEPAUDIO_CHAT_API_KEY": "sk-test",
        }
    )
    engine = settings.engines["chat-upstream"]
    assert engine["base_url"] == "http://gpu-1:30000/v1"
    assert engine["model"] == "step-audio-2-mini"
    assert engine["api_key"] == "sk-test"
    assert engine["type"] == "openai-compatible"


@pytest.mark.parametrize("value", ["12345", "true", "1.5", "0x10", "2024-01-01"])
def test_chat_shortcuts_are_read_as_plain_strings(value: str) -> None:
    settings = load_settings(
        environ={
            "STEPAUDIO_CHAT_API_KEY": value,
            "STEPAUDIO_CHAT_MODEL": value,
            "STEPAUDIO_CHAT_BASE_URL": "http://x/v1",
        }
    )
    engine = settings.engines["chat-upstream"]
    assert engine["api_key"] == value and type(engine["api_key"]) is str
    assert engine["model"] == value and type(engine["model"]) is str


def test_chat_shortcuts_override_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "stepaudio.toml"
    config.write_text(
        '[engines.chat-upstream]\nbase_url = "http://config/v1"\nmodel = "config-model"\n'
        'api_key = "config-key"\ncontext_tokens = 4096\n',
        encoding="utf-8",
    )
    from_file = load_settings(config_file=config, environ={})
    assert from_file.engines["chat-upstream"]["base_url"] == "http://config/v1"
    assert from_file.engines["chat-upstream"]["model"] == "config-model"

    settings = load_settings(
        config_file=config,
        environ={
            "STEPAUDIO_CHAT_BASE_URL": "http://env/v1",
            "STEPAUDIO_CHAT_MODEL": "env-model",
            "STEPAUDIO_CHAT_API_KEY": "12345",
        },
    )
    engine = settings.engines["chat-upstream"]
    assert engine["base_url"] == "http://env/v1"
    assert engine["model"] == "env-model"
    assert engine["api_key"] == "12345"
    # what the environment does not name is left as the file set it
    assert engine["context_tokens"] == 4096
    assert engine["type"] == "openai-compatible"


def test_one_shortcut_leaves_the_other_options_from_the_file(tmp_path: Path) -> None:
    config = tmp_path / "stepaudio.toml"
    config.write_text(
        '[engines.chat-upstream]\nbase_url = "http://config/v1"\nmodel = "config-model"\n',
        encoding="utf-8",
    )
    settings = load_settings(config_file=config, environ={"STEPAUDIO_CHAT_MODEL": "env-model"})
    engine = settings.engines["chat-upstream"]
    assert engine["base_url"] == "http://config/v1"
    assert engine["model"] == "env-model"


def test_chat_section_from_the_environment() -> None:
    settings = load_settings(environ={"STEPAUDIO_CHAT__TOOL_TIMEOUT_SECONDS": "2.5"})
    assert settings.chat.tool_timeout_seconds == 2.5
    assert isinstance(settings.chat.tool_timeout_seconds, float)


def test_chat_defaults() -> None:
    settings = load_settings(environ={})
    chat_models = [m for m in settings.models if m.id == "step-audio-chat"]
    assert len(chat_models) == 1
    assert chat_models[0].engine == "chat-upstream"
    assert "gpt-4o-audio-preview" in chat_models[0].aliases
    assert settings.chat.speech_model == "step-audio-tts"
    engine = settings.engines["chat-upstream"]
    assert engine["type"] == "openai-compatible"
    assert engine["base_url"] == ""  # no brain until one is configured


def test_unconfigured_chat_upstream_says_which_variables_to_set(pool: WorkerPool) -> None:
    engine = UpstreamChatEngine("chat-upstream", {"base_url": "", "model": "m"}, pool)
    with pytest.raises(EngineNotConfigured) as caught:
        engine.load()
    message = str(caught.value)
    assert "STEPAUDIO_CHAT_BASE_URL" in message
    assert "base_url" in message


def test_default_chat_upstream_options_are_not_configured(pool: WorkerPool) -> None:
    options = {
        k: v for k, v in load_settings(environ={}).engines["chat-upstream"].items() if k != "type"
    }
    engine = UpstreamChatEngine("chat-upstream", options, pool)
    with pytest.raises(EngineNotConfigured) as caught:
        engine.load()
    assert "STEPAUDIO_CHAT_MODEL" in str(caught.value)


def test_another_unconfigured_engine_names_its_own_table(pool: WorkerPool) -> None:
    engine = UpstreamChatEngine("other", {"base_url": "", "model": ""}, pool)
    with pytest.raises(EngineNotConfigured) as caught:
        engine.load()
    message = str(caught.value)
    assert "[engines.other]" in message
    assert "STEPAUDIO_CHAT_BASE_URL" not in message


def test_an_unknown_option_is_named(pool: WorkerPool) -> None:
    engine = UpstreamChatEngine(
        "chat-upstream", {"base_url": "http://x/v1", "model": "m", "colour": 1}, pool
    )
    with pytest.raises(ValueError, match="colour"):
        engine.load()


def test_a_configured_chat_upstream_loads(pool: WorkerPool) -> None:
    engine = UpstreamChatEngine(
        "chat-upstream",
        {"base_url": "http://x/v1", "model": "m", "api_key": "", "context_tokens": 32768},
        pool,
    )
    engine.load()
    try:
        description = engine.describe()
        assert description["capability"] == "chat"
        assert description["context_tokens"] == 32768
        assert engine.context_tokens == 32768
        assert engine.upstream is not None
    finally:
        asyncio.run(engine.aclose())


def test_context_tokens_defaults_to_the_class_value(pool: WorkerPool) -> None:
    engine = UpstreamChatEngine("chat-upstream", {"base_url": "http://x/v1", "model": "m"}, pool)
    engine.load()
    try:
        assert engine.describe()["context_tokens"] == 8192
    finally:
        asyncio.run(engine.aclose())
