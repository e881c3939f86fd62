"""Every hook, exercised by a plugin in a running server (stepaudio_api.testing): what a plugin
registers appears in the API, lifecycle hooks run, a plugin may authenticate and observe usage.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from stepaudio_api import Dialect, PackVoice, Tool, hookimpl
from stepaudio_api.store.api_keys import Caller
from stepaudio_api.testing import running_server


class RecordingPlugin:
    """A plugin that registers one of everything and remembers what it was told."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.usage: list[dict[str, Any]] = []

    @hookimpl
    def register_voices(self, register: Any) -> None:
        register(PackVoice("joe-narrator", engine_type="piper", preset="joe", language="en",
                           description="joe, for audiobooks"))  # fmt: skip

    @hookimpl
    def register_tools(self, register: Any, settings: Any) -> None:
        schema = {"type": "object", "properties": {"text": {"type": "string"}}}
        register(Tool("echo", lambda text: text, description="Say it back", parameters=schema))

    @hookimpl
    def register_dialects(self, register: Any) -> None:
        register(Dialect("scots", language="sco", step_audio_tag="英文",
                         aliases=("Scots", "Lallans"), selectors=("in Scots",)))  # fmt: skip

    @hookimpl
    async def startup(self, services: Any) -> None:
        self.events.append(f"startup with {sorted(services.engines.engines)}")

    @hookimpl
    def shutdown(self) -> None:
        self.events.append("shutdown")

    @hookimpl
    def authenticate(self, token: str) -> Caller | None:
        if token == "sso-ticket-42":
            return Caller(key_id=None, name="sso:alice", scope="user")
        return None

    @hookimpl
    def usage_recorded(self, record: dict[str, Any]) -> None:
        self.usage.append(record)


@pytest.fixture(scope="module")
def plugin() -> RecordingPlugin:
    return RecordingPlugin()


@pytest.fixture(scope="module")
def server(plugin: RecordingPlugin, tmp_path_factory: pytest.TempPathFactory) -> Any:
    environ = {"STEPAUDIO_AUTH_REQUIRED": "true"}
    folder = tmp_path_factory.mktemp("hooks")
    plugins = {"recording": plugin}
    with running_server(folder, plugins, ["piper-joe"], environ, api_key=None) as running:
        yield running
    assert plugin.events[-1] == "shutdown"


def test_hook_register_voices(server: Any) -> None:
    response = server.get("/v1/audio/voices", headers={"Authorization": "Bearer sso-ticket-42"})
    voices = {v["id"]: v for v in response.json()["data"]}
    narrator = voices["joe-narrator"]
    assert narrator["type"] == "plugin" and narrator["plugin"] == "recording"
    assert narrator["models"] == ["step-audio-tts"]
    assert narrator["description"] == "joe, for audiobooks"
    spoken = server.post(
        "/v1/audio/speech",
        headers={"Authorization": "Bearer sso-ticket-42"},
        json={"model": "tts-1", "voice": "joe-narrator", "input": "Chapter one.",
              "response_format": "pcm"},
    )  # fmt: skip
    assert spoken.status_code == 200 and len(spoken.content) > 24000  # over half a second


def test_hook_register_tools(server: Any) -> None:
    tools = server.services.tools
    assert tools.get("echo").plugin == "recording"
    described = {p.name: p for p in server.services.plugins.describe()}
    assert described["recording"].registered["tools"] == ["echo"]


def test_hook_register_dialects(server: Any) -> None:
    dialect = server.services.dialects.find("lallans")
    assert dialect is not None and dialect.name == "scots" and dialect.plugin == "recording"


def test_hook_startup(server: Any, plugin: RecordingPlugin) -> None:
    assert plugin.events[0] == "startup with ['piper-joe']"


def test_hook_shutdown(tmp_path: Path) -> None:
    plugin = RecordingPlugin()
    with running_server(tmp_path, {"recording": plugin}) as running:
        assert running.get("/health").status_code == 200
        assert "shutdown" not in plugin.events
    assert plugin.events == ["startup with []", "shutdown"]


def test_hook_authenticate(server: Any) -> None:
    assert server.get("/v1/models").status_code == 401
    wrong = server.get("/v1/models", headers={"Authorization": "Bearer sso-ticket-41"})
    assert wrong.status_code == 401
    right = server.get("/v1/models", headers={"Authorization": "Bearer sso-ticket-42"})
    assert right.status_code == 200
    admin = server.get("/admin/keys", headers={"Authorization": "Bearer sso-ticket-42"})
    assert admin.status_code == 403  # the plugin's caller has the user scope


def test_hook_usage_recorded(server: Any, plugin: RecordingPlugin) -> None:
    response = server.post(
        "/v1/audio/speech",
        headers={"Authorization": "Bearer sso-ticket-42"},
        json={"model": "tts-1", "voice": "alloy", "input": "Count me.", "response_format": "pcm"},
    )
    assert response.status_code == 200
    request_id = response.headers["x-request-id"]
    deadline = time.monotonic() + 5
    while not any(r["request_id"] == request_id for r in plugin.usage):
        assert time.monotonic() < deadline, plugin.usage
        time.sleep(0.05)
    (record,) = [r for r in plugin.usage if r["request_id"] == request_id]
    assert record["status"] == "completed" and record["capability"] == "speech"
    assert record["model"] == "step-audio-tts" and record["input_characters"] == len("Count me.")
    assert record["audio_seconds_out"] == pytest.approx(len(response.content) / 2 / 24000, abs=0.05)
