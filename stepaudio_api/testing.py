"""Test helpers for plugin authors: run the real server, in this process, with your plugin.

    from stepaudio_api.testing import running_server

    def test_my_tool_is_listed(tmp_path):
        with running_server(tmp_path, plugins={"my-plugin": my_plugin_module}) as server:
            assert server.get("/v1/models").status_code == 200

The server is the whole application (auth, metering, the store migrated in ``tmp_path``) on a
free loopback port, served by uvicorn in a thread; ``engines`` limits which configured engines
load (none by default: quicker, for plugins that need none).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn

from stepaudio_api.app import create_app
from stepaudio_api.services import Services
from stepaudio_api.settings import load_settings
from stepaudio_api.store.database import database_url
from stepaudio_api.store.migrate import upgrade_database


class TestServer(httpx.Client):
    """An httpx client of the running server, with the server's Services at hand."""

    __test__ = False  # not a pytest test class

    def __init__(self, base_url: str, services: Services, api_key: str | None) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        super().__init__(base_url=base_url, headers=headers, timeout=60)
        self.services = services


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(
    tmp_path: Path,
    plugins: dict[str, object] | None = None,
    engines: list[str] | None = None,
    environ: dict[str, str] | None = None,
    api_key: str | None = "sk-test",
) -> Iterator[TestServer]:
    """Serve the application with ``plugins`` added (name -> module or object) and yield a
    client of it; stopped (shutdown hooks run) when the block ends."""
    environment = {"STEPAUDIO_DATA_DIR": str(tmp_path / "data"), **(environ or {})}
    settings = load_settings(environ=environment)
    keep = set(engines or [])
    settings.engines = {k: v for k, v in settings.engines.items() if k in keep}
    settings.models = [m for m in settings.models if m.engine in keep]
    upgrade_database(database_url(settings))
    services = Services.build(settings, extra_plugins=plugins)
    port = _free_port()
    config = uvicorn.Config(
        create_app(services=services), host="127.0.0.1", port=port, log_level="warning",
        lifespan="on", ws_max_size=settings.realtime.max_event_bytes + 1024 * 1024,
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    client = TestServer(f"http://127.0.0.1:{port}", services, api_key)
    try:
        yield client
    finally:
        client.close()
        server.should_exit = True
        thread.join(timeout=30)
