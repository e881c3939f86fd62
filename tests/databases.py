"""The databases the suite runs on: SQLite always, PostgreSQL where one answers.

PostgreSQL is the server named by STEPAUDIO_TEST_POSTGRES_URL, or else the one `.ci/run` sets up
(role `stepaudio` on 127.0.0.1:5432) if it answers within a second. Each test database is a new
empty one, dropped when the session's use of the backend ends.
"""

from __future__ import annotations

import asyncio
import functools
import os
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import Connection
from sqlalchemy.engine import make_url

from stepaudio_api.store.database import create_engine

POSTGRES_URL_ENV = "STEPAUDIO_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://stepaudio:stepaudio@127.0.0.1:5432/postgres"
T = TypeVar("T")


@dataclass
class Backend:
    name: str  # "sqlite" or "postgresql", the test id
    root: Path  # where SQLite files go
    admin_url: str = ""  # PostgreSQL: a database to connect to for CREATE/DROP DATABASE
    created: list[str] = field(default_factory=list)  # PostgreSQL databases to drop


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _answers(url: str) -> bool:
    try:
        connection = await asyncpg.connect(_asyncpg_dsn(url), timeout=1)
    except Exception:  # refused, timed out, no such role, wrong password...
        return False
    await connection.close()
    return True


@functools.cache
def postgres_admin_url() -> str | None:
    """The PostgreSQL URL to test on, or None where none is present."""
    if url := os.environ.get(POSTGRES_URL_ENV):
        return url  # asked for explicitly: if it does not answer, the tests fail and say so
    return DEFAULT_POSTGRES_URL if asyncio.run(_answers(DEFAULT_POSTGRES_URL)) else None


def available_backends() -> list[str]:
    return ["sqlite", "postgresql"] if postgres_admin_url() else ["sqlite"]


def open_backend(name: str, root: Path) -> Backend:
    admin_url = postgres_admin_url() if name == "postgresql" else None
    return Backend(name, root, admin_url or "")


async def _admin(backend: Backend, statement: str) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(backend.admin_url), timeout=10)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def fresh_database_url(backend: Backend) -> str:
    """The URL of a new, empty database on the backend."""
    if backend.name == "sqlite":
        return f"sqlite+aiosqlite:///{tempfile.mkdtemp(dir=backend.root)}/stepaudio.db"
    name = f"stepaudio_test_{secrets.token_hex(6)}"
    asyncio.run(_admin(backend, f'CREATE DATABASE "{name}"'))
    backend.created.append(name)
    return make_url(backend.admin_url).set(database=name).render_as_string(hide_password=False)


def drop_databases(backend: Backend) -> None:
    while backend.created:
        name = backend.created.pop()
        asyncio.run(_admin(backend, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def run_sync(url: str, work: Callable[[Connection], T]) -> T:
    """Run `work` on a synchronous connection to the database (inspection, Alembic)."""

    async def run() -> Any:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(work)
        finally:
            await engine.dispose()

    return asyncio.run(run())
