"""What the command-line groups share: settings that exit cleanly, and a migrated store."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import click

from stepaudio_api.settings import Settings, SettingsError, load_settings
from stepaudio_api.store.database import Database

T = TypeVar("T")


def load_or_exit(config_file: str | None = None) -> Settings:
    try:
        return load_settings(config_file)
    except SettingsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


def migrated_url(settings: Settings) -> str:
    from stepaudio_api.store.database import database_url
    from stepaudio_api.store.migrate import upgrade_database

    url = database_url(settings)
    upgrade_database(url)
    return url


@asynccontextmanager
async def _open(url: str) -> AsyncIterator[Database]:
    database = Database(url)
    try:
        yield database
    finally:
        await database.dispose()


def with_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Migrate the database, then run `work` with it open."""
    url = migrated_url(settings)

    async def run() -> T:
        async with _open(url) as database:
            return await work(database)

    return asyncio.run(run())
