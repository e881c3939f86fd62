"""The database connection: SQLite in the data folder by default, PostgreSQL by URL."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from stepaudio_api.settings import Settings

SQLITE_FILE_NAME = "stepaudio.db"


def database_url(settings: Settings) -> str:
    """The configured URL, or SQLite in the data folder (created if missing)."""
    if settings.database_url:
        return settings.database_url
    data_dir = Path(settings.data_dir).expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite+aiosqlite:///{data_dir / SQLITE_FILE_NAME}"


def redact_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers work beside the one writer; a committed transaction survives a killed
    # process; foreign keys are off in SQLite unless asked for.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_engine(url: str) -> AsyncEngine:
    if make_url(url).get_backend_name() == "sqlite":
        # A writer waits for the lock (quota checks from parallel requests) instead of failing.
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()


UNREACHABLE_ERRORS = frozenset((
    "CannotConnectNowError", "ConnectionDoesNotExistError", "AdminShutdownError",
    "CrashShutdownError", "ConnectionFailureError", "TooManyConnectionsError", "InterfaceError",
))  # fmt: skip


def is_unreachable(exc: BaseException) -> bool:
    """The database cannot be reached now (refused, restarting, a dropped connection): a
    condition that passes, unlike a bad query. The driver's own error is looked for down the
    chain SQLAlchemy wraps it in."""
    from sqlalchemy import exc as sa

    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            return False
        if isinstance(seen, sa.DBAPIError) and seen.connection_invalidated:
            return True
        if isinstance(seen, sa.TimeoutError | sa.DisconnectionError | sa.InterfaceError):
            return True
        if isinstance(seen, ConnectionError | TimeoutError | socket.gaierror):
            return True
        # asyncpg's own: CannotConnectNowError (starting up, shutting down),
        # ConnectionDoesNotExistError, AdminShutdownError (restarted under us), ...
        if type(seen).__name__ in UNREACHABLE_ERRORS:
            return True
        following = seen.orig if isinstance(seen, sa.DBAPIError) else None
        seen = following or seen.__cause__ or seen.__context__
    return False
