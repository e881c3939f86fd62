"""Misconfigured Step-Audio engines stop only themselves, with a reason naming what to set."""

from __future__ import annotations

import asyncio
from pathlib import Path

from stepaudio_api.engines.registry import EngineRegistry
from stepaudio_api.plugins import get_plugin_manager
from stepaudio_api.settings import load_settings


def registry(tmp_path: Path, body: str) -> EngineRegistry:
    config = tmp_path / "engines.toml"
    config.write_text(body)
    settings = load_settings(config, environ={})
    settings.engines = {k: v for k, v in settings.engines.items() if k.startswith("sa-")}
    return EngineRegistry(settings, get_plugin_manager())


def test_a_codec_that_is_not_there_makes_the_engine_unavailable(tmp_path: Path) -> None:
    engines = registry(tmp_path, '[engines.sa-tts]\ntype = "step-audio-tts"\ncodec = "nope"\n')
    assert "sa-tts" not in engines.engines
    assert "codec = 'nope' names no step-audio-codec engine" in engines.state["sa-tts"]
    engines.shutdown()


def test_missing_settings_are_named_and_the_rest_runs(tmp_path: Path) -> None:
    engines = registry(
        tmp_path,
        f'[engines.sa-codec]\ntype = "step-audio-codec"\n'
        f'[engines.sa-tts]\ntype = "step-audio-tts"\ncodec = "sa-codec"\n'
        f'model_dir = "{tmp_path / "missing"}"\nbase_url = "http://127.0.0.1:9"\n'
        f'[engines.sa-chat]\ntype = "step-audio-chat"\ncodec = "sa-codec"\n',
    )
    asyncio.run(engines.start())
    assert engines.state["sa-tts"].startswith("not configured: model_dir")
    assert "is not a folder" in engines.state["sa-tts"]
    assert "set model_dir in [engines.sa-chat]" in engines.state["sa-chat"]
    assert engines.state["sa-codec"].startswith("not configured")
    engines.shutdown()
