"""API keys: create (the secret is returned once), verify by hash, list, revoke, set quotas."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import select, update

from stepaudio_api.store.database import Database
from stepaudio_api.store.tables import ApiKey, utc_now

SECRET_PREFIX = "sk-sa-"
SCOPES = ("admin", "user")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: a verified key, or anonymous when auth is not required."""

    key_id: str | None
    name: str
    scope: str
    quota_characters: int | None = None
    quota_audio_seconds: float | None = None

    @property
    def is_admin(self) -> bool:
        return self.scope == "admin"


ANONYMOUS = Caller(key_id=None, name="anonymous", scope="user")


@dataclass(frozen=True, slots=True)
class CreatedKey:
    key: ApiKey
    secret: str


class ApiKeyStore:
    def __init__(self, database: Database, cache_seconds: float = 5.0) -> None:
        self.database = database
        self.cache_seconds = cache_seconds
        # secret hash -> (caller or None for "no such key", time it was looked up)
        self._cache: dict[str, tuple[Caller | None, float]] = {}

    async def create(
        self,
        name: str,
        scope: str = "user",
        quota_characters: int | None = None,
        quota_audio_seconds: float | None = None,
    ) -> CreatedKey:
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(
            id="key_" + secrets.token_hex(12),
            name=name,
            scope=scope,
            secret_hash=hash_secret(secret),
            redacted=f"{SECRET_PREFIX}...{secret[-4:]}",
            quota_characters=quota_characters,
            quota_audio_seconds=quota_audio_seconds,
            created_at=utc_now(),
        )
        async with self.database.sessions.begin() as session:
            session.add(key)
        return CreatedKey(key=key, secret=secret)

    async def list(self, include_revoked: bool = True) -> list[ApiKey]:
        query = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
        if not include_revoked:
            query = query.where(ApiKey.revoked_at.is_(None))
        async with self.database.sessions() as session:
            return list((await session.scalars(query)).all())

    async def get(self, key_id: str) -> ApiKey | None:
        async with self.database.sessions() as session:
            return await session.get(ApiKey, key_id)

    async def revoke(self, key_id: str) -> ApiKey | None:
        async with self.database.sessions.begin() as session:
            key = await session.get(ApiKey, key_id)
            if key is not None and key.revoked_at is None:
                key.revoked_at = utc_now()
        self._cache.clear()
        return key

    async def set_quotas(
        self, key_id: str, changes: dict[str, int | float | None]
    ) -> ApiKey | None:
        allowed = {"quota_characters", "quota_audio_seconds", "name"}
        values = {k: v for k, v in changes.items() if k in allowed}
        async with self.database.sessions.begin() as session:
            if values:
                await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(**values))
            key = await session.get(ApiKey, key_id, populate_existing=True)
        self._cache.clear()
        return key

    async def verify(self, secret: str) -> Caller | None:
        """The caller a secret belongs to, or None when it is unknown or revoked."""
        digest = hash_secret(secret)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and now - cached[1] < self.cache_seconds:
            return cached[0]
        async with self.database.sessions() as session:
            key = await session.scalar(select(ApiKey).where(ApiKey.secret_hash == digest))
        caller = None
        if key is not None and key.revoked_at is None:
            caller = Caller(
                key_id=key.id,
                name=key.name,
                scope=key.scope,
                quota_characters=key.quota_characters,
                quota_audio_seconds=key.quota_audio_seconds,
            )
        if len(self._cache) > 10_000:
            self._cache.clear()  # unknown secrets sent in bulk must not grow memory forever
        self._cache[digest] = (caller, now)
        return caller
