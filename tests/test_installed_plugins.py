"""Plugins as users install them: real distributions with entry points, pip-installed from a
temporary folder. What they add appears in the API; uninstalled, it is gone; a broken one is
reported by name and the server runs on."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from audio_checks import decode
from conftest import ServerProcess
from keys import admin_get, create_key

GOOD = """
from stepaudio_api import Dialect, PackVoice, Tool, hookimpl


@hookimpl
def register_voices(register):
    register(PackVoice("installed-voice", engine_type="piper", preset="joe", language="en",
                       description="a voice from an installed plugin"))


@hookimpl
def register_tools(register):
    register(Tool("installed_tool", lambda: "ok", description="from an installed plugin"))


@hookimpl
def register_dialects(register):
    register(Dialect("installed-dialect", language="x-test", step_audio_tag="中文",
                     aliases=("Testish",)))
"""
BROKEN_IMPORT = "raise ImportError('this plugin cannot be imported')\n"
RAISING_HOOK = """
from stepaudio_api import hookimpl


@hookimpl
def register_tools(register):
    raise RuntimeError("this hook always fails")
"""
DISTRIBUTIONS = {
    "stepaudio-test-good": ("stepaudio_test_good", "good", GOOD),
    "stepaudio-test-broken-import": ("stepaudio_test_broken_import", "broken_import",
                                     BROKEN_IMPORT),
    "stepaudio-test-raising-hook": ("stepaudio_test_raising_hook", "raising_hook", RAISING_HOOK),
}  # fmt: skip


def _write_distribution(folder: Path, name: str, module: str, entry: str, code: str) -> Path:
    root = folder / name
    root.mkdir()
    (root / f"{module}.py").write_text(textwrap.dedent(code), encoding="utf-8")
    (root / "pyproject.toml").write_text(
        textwrap.dedent(f"""
        [build-system]
        requires = ["setuptools"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{name}"
        version = "1.2.3"

        [tool.setuptools]
        py-modules = ["{module}"]

        [project.entry-points.stepaudio_api]
        {entry} = "{module}"
        """),
        encoding="utf-8",
    )
    return root


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--quiet", *args], check=True,
                   capture_output=True)  # fmt: skip


@pytest.fixture
def installed(tmp_path: Path) -> Iterator[None]:
    folders = [_write_distribution(tmp_path, name, *spec) for name, spec in DISTRIBUTIONS.items()]
    _pip("install", "--no-deps", *map(str, folders))
    try:
        yield
    finally:
        _pip("uninstall", "--yes", *DISTRIBUTIONS)


@pytest.mark.slow
def test_an_installed_plugin_adds_a_voice_a_tool_and_a_dialect(
    installed: None, tmp_path: Path, database_url: str
) -> None:
    server = ServerProcess(tmp_path, database_url)
    try:
        key = create_key(server, "plugin-admin", "--admin")
        plugins = {p["name"]: p for p in admin_get(server, key, "/admin/plugins")["data"]}
        good = plugins["good"]
        assert good["version"] == "1.2.3" and good["distribution"] == "stepaudio-test-good"
        assert good["hooks"] == ["register_dialects", "register_tools", "register_voices"]
        assert good["registered"] == {
            "voices": ["installed-voice"],
            "tools": ["installed_tool"],
            "dialects": ["installed-dialect"],
        }
        assert "cannot be imported" in plugins["broken_import"]["errors"][0]
        assert "this hook always fails" in plugins["raising_hook"]["errors"][0]
        voices = httpx.get(f"{server.base_url}/v1/audio/voices").json()["data"]
        mine = [v for v in voices if v["id"] == "installed-voice"]
        assert mine and mine[0]["plugin"] == "good" and mine[0]["models"] == ["step-audio-tts"]
        spoken = server.client().audio.speech.create(
            model="tts-1", voice="installed-voice", input="From a plugin.", response_format="wav"
        )
        assert decode(spoken.read(), "wav").duration > 0.5
        assert server.client().models.retrieve("tts-1")  # the server is whole
        listing = server.cli("plugins").stdout
        assert "good 1.2.3: register_dialects, register_tools, register_voices" in listing
        assert "error: import raised ImportError: this plugin cannot be imported" in listing
    finally:
        server.stop()
    _pip("uninstall", "--yes", *DISTRIBUTIONS)
    server.start()
    try:
        plugins = {p["name"] for p in admin_get(server, key, "/admin/plugins")["data"]}
        assert not plugins & {"good", "broken_import", "raising_hook"}
        voices = httpx.get(f"{server.base_url}/v1/audio/voices").json()["data"]
        assert "installed-voice" not in {v["id"] for v in voices}
    finally:
        server.stop()


def _plugins_command(tmp_path: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stepaudio_api", "plugins"],
        env={**os.environ, "STEPAUDIO_DATA_DIR": str(tmp_path), **environment},
        capture_output=True,
        text=True,
        check=True,
    )


def test_tracing_logs_every_hook_call(tmp_path: Path) -> None:
    traced = _plugins_command(tmp_path, STEPAUDIO_TRACE_PLUGINS="1").stderr
    engines = "hook register_engines(register, settings) -> "
    assert engines + "stepaudio_api.default_plugins.embedded_engines" in traced
    assert "hook register_dialects(register, settings)" in traced
    assert "hook register_engines" not in _plugins_command(tmp_path).stderr
