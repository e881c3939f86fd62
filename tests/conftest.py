"""Fixtures: a real server process on a free loopback port, driven with the official openai SDK.

Every test that uses a database (through `server`, `db_backend` or `database_url`) runs once on
SQLite and once on PostgreSQL where one is present (see databases.py).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from chat_stand_in import ChatStandIn
from databases import Backend, available_backends, drop_databases, fresh_database_url, open_backend

from stepaudio_tools.testing import OpenMeteoStandIn

# real recordings, with their sources and licences in tests/data/README.md
TESTDATA = Path(__file__).resolve().parent / "data"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """`stepaudio-api serve` on its own port, data folder and database; may be killed and
    started again on the same ones."""

    def __init__(self, tmp: Path, database_url: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.database_url = database_url
        self.log_path = tmp / f"server-{self.port}.log"
        self.env = {
            **os.environ,
            "STEPAUDIO_DATA_DIR": str(tmp / "data"),
            "STEPAUDIO_DATABASE_URL": database_url,
            **(env or {}),
        }
        self.start()

    def start(self) -> None:
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "stepaudio_api", "serve", "--port", str(self.port)],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited:\n{self.log_path.read_text()}")
            try:
                # /ready needs a key when auth is required; uvicorn listens only once the
                # engines have loaded, so there an answer at all means the same
                if httpx.get(f"{self.base_url}/ready", timeout=1).status_code in (200, 401):
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server not ready after {timeout} s:\n{self.log_path.read_text()}")

    def client(self, max_retries: int = 0, **kwargs: object) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=f"{self.base_url}/v1", api_key="sk-test", max_retries=max_retries, **kwargs
        )

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`stepaudio-api ARGS` with the server's environment (its data folder and database)."""
        command = [sys.executable, "-m", "stepaudio_api", *args]
        result = subprocess.run(command, env=self.env, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise AssertionError(
                f"stepaudio-api {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout}{result.stderr}"
            )
        return result

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers run, as in a crash."""
        self.process.kill()
        self.process.wait()
        self._log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_backend" in metafunc.fixturenames:
        names = available_backends()
        metafunc.parametrize("db_backend", names, indirect=True, scope="session", ids=names)


@pytest.fixture(scope="session")
def db_backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    backend = open_backend(request.param, tmp_path_factory.mktemp(request.param))
    yield backend
    drop_databases(backend)


@pytest.fixture
def database_url(db_backend: Backend) -> str:
    """A new, empty database on the backend under test."""
    return fresh_database_url(db_backend)


@pytest.fixture(scope="session")
def server(
    db_backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("server"), fresh_database_url(db_backend))
    yield process
    process.stop()
    assert process.process.returncode is not None


@pytest.fixture(scope="session")
def auth_server(
    db_backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A server that requires a key on every route, trusting a verified key for 1 s."""
    process = ServerProcess(
        tmp_path_factory.mktemp("auth-server"),
        fresh_database_url(db_backend),
        env={"STEPAUDIO_AUTH_REQUIRED": "true", "STEPAUDIO_AUTH__KEY_CACHE_SECONDS": "1"},
    )
    yield process
    process.stop()


@pytest.fixture(scope="session")
def admin_key(auth_server: ServerProcess) -> str:
    result = auth_server.cli("keys", "create", "--name", "test-admin", "--admin")
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def client(server: ServerProcess) -> openai.OpenAI:
    return server.client()


@pytest.fixture(scope="session")
def testdata() -> Path:
    assert TESTDATA.exists(), f"test recordings not found at {TESTDATA}"
    return TESTDATA


# chat: the stand-in upstream brain (and Open-Meteo for the weather tool), and a server using them
UPSTREAM = "STEPAUDIO_ENGINES__CHAT-UPSTREAM__"


@pytest.fixture(scope="session")
def upstream_session() -> Iterator[ChatStandIn]:
    with ChatStandIn() as stand_in:
        yield stand_in


@pytest.fixture
def upstream(upstream_session: ChatStandIn) -> Iterator[ChatStandIn]:
    """The stand-in, with no planned replies, no default one and no requests recorded before
    the test."""
    upstream_session.replies.clear()
    upstream_session.requests.clear()
    upstream_session.default = None
    yield upstream_session
    upstream_session.replies.clear()
    upstream_session.default = None


@pytest.fixture(scope="session")
def open_meteo_session() -> Iterator[OpenMeteoStandIn]:
    with OpenMeteoStandIn() as stand_in:
        yield stand_in


@pytest.fixture
def open_meteo(open_meteo_session: OpenMeteoStandIn) -> Iterator[OpenMeteoStandIn]:
    yield open_meteo_session
    open_meteo_session.delay = 0.0
    open_meteo_session.fail_status = None


@pytest.fixture(scope="session")
def chat_server(
    db_backend: Backend,
    tmp_path_factory: pytest.TempPathFactory,
    upstream_session: ChatStandIn,
    open_meteo_session: OpenMeteoStandIn,
) -> Iterator[ServerProcess]:
    env = {
        "STEPAUDIO_CHAT_BASE_URL": upstream_session.base_url,
        "STEPAUDIO_CHAT_MODEL": "stand-in-brain",
        "STEPAUDIO_CHAT_API_KEY": "sk-upstream-secret",
        UPSTREAM + "FIRST_TOKEN_TIMEOUT": "2",
        UPSTREAM + "READ_TIMEOUT": "1.5",
        UPSTREAM + "MAX_RETRIES": "1",
        UPSTREAM + "BACKOFF_SECONDS": "0.05",
        UPSTREAM + "BREAKER_FAILURES": "1000",
        "STEPAUDIO_CHAT__TOOL_TIMEOUT_SECONDS": "1.5",
        "STEPAUDIO_PLUGIN_OPTIONS__TOOLS__WEATHER_BASE_URL": open_meteo_session.url,
        "STEPAUDIO_PLUGIN_OPTIONS__TOOLS__GEOCODING_BASE_URL": open_meteo_session.url,
    }
    process = ServerProcess(
        tmp_path_factory.mktemp("chat-server"), fresh_database_url(db_backend), env=env
    )
    yield process
    process.stop()
