"""Voice consents: a speaker's consent recordings, each the uploading key's own; create, page
through newest first, read, rename, delete."""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

from sqlalchemy import ColumnElement, delete, select, true
from sqlalchemy.orm import defer

from stepaudio_api.store.database import Database
from stepaudio_api.store.tables import VoiceConsent, utc_now

ID_PREFIX = "cons_"
CONSENT_ID = re.compile(r"cons_[0-9a-f]{24}")


class EveryKey:
    """The admin's view: the consents of every key."""


EVERY_KEY = EveryKey()
Owner = str | None | EveryKey
"""Whose consents a call may touch: a key's id, None for calls without a key, or EVERY_KEY."""


def new_consent_id() -> str:
    """Milliseconds since the epoch, then randomness: ids sort as the consents were made, so
    a page's cursor needs no lookup and still works after its consent is deleted."""
    return f"{ID_PREFIX}{time.time_ns() // 1_000_000:012x}{secrets.token_hex(6)}"


def _owned_by(owner: Owner) -> ColumnElement[bool]:
    if isinstance(owner, EveryKey):
        return true()
    return VoiceConsent.key_id.is_(None) if owner is None else VoiceConsent.key_id == owner


class VoiceConsentStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def create(self, **fields: Any) -> VoiceConsent:
        """Insert a consent from VoiceConsent's columns (id and timestamps are filled in)."""
        now = utc_now()
        consent = VoiceConsent(id=new_consent_id(), created_at=now, updated_at=now, **fields)
        async with self.database.sessions.begin() as session:
            session.add(consent)
        return consent

    async def page(
        self, owner: Owner, after: str | None, limit: int
    ) -> tuple[list[VoiceConsent], bool]:
        """Up to ``limit`` consents, newest first, older than the one ``after`` names; and
        whether more follow. Without their audio: listings never need it."""
        query = (
            select(VoiceConsent)
            .options(defer(VoiceConsent.audio, raiseload=True))
            .where(_owned_by(owner))
            .order_by(VoiceConsent.id.desc())
            .limit(limit + 1)
        )
        if after is not None:
            query = query.where(VoiceConsent.id < after)
        async with self.database.sessions() as session:
            found = list((await session.scalars(query)).all())
        return found[:limit], len(found) > limit

    async def get(self, consent_id: str, owner: Owner) -> VoiceConsent | None:
        query = select(VoiceConsent).where(VoiceConsent.id == consent_id, _owned_by(owner))
        async with self.database.sessions() as session:
            return await session.scalar(query)

    async def exists(self, consent_id: str, owner: Owner) -> bool:
        query = select(VoiceConsent.id).where(VoiceConsent.id == consent_id, _owned_by(owner))
        async with self.database.sessions() as session:
            return await session.scalar(query) is not None

    async def rename(self, consent_id: str, owner: Owner, name: str) -> VoiceConsent | None:
        query = (
            select(VoiceConsent)
            .options(defer(VoiceConsent.audio, raiseload=True))
            .where(VoiceConsent.id == consent_id, _owned_by(owner))
        )
        async with self.database.sessions.begin() as session:
            consent = await session.scalar(query)
            if consent is None:
                return None
            consent.name = name
            consent.updated_at = utc_now()
        return consent

    async def delete(self, consent_id: str, owner: Owner) -> bool:
        statement = delete(VoiceConsent).where(VoiceConsent.id == consent_id, _owned_by(owner))
        async with self.database.sessions.begin() as session:
            result = await session.execute(statement)
        return bool(result.rowcount)  # type: ignore[attr-defined]
