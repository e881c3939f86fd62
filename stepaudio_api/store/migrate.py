"""Schema migrations from inside the installed package: `db upgrade`, and `serve` on start."""

from __future__ import annotations

import asyncio
import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from stepaudio_api.store.database import create_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = url
    return config


@contextmanager
def _one_migrator(url: str) -> Iterator[None]:
    """Processes migrating one SQLite file take turns (PostgreSQL: an advisory lock in env.py),
    since pysqlite runs DDL outside a transaction."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        yield
        return
    with open(f"{parsed.database}.migration-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def upgrade_database(url: str, revision: str = "head") -> None:
    """Bring the database to `revision` (creating the SQLite file if needed). Not for use
    inside a running event loop: the migration environment runs its own."""
    with _one_migrator(url):
        command.upgrade(alembic_config(url), revision)


def downgrade_database(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("")).get_current_head()


async def current_revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()


def database_revision(url: str) -> str | None:
    return asyncio.run(current_revision(url))
