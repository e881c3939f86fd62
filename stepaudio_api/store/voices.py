"""Voice profiles (cloned voices): create with a unique name, list, read, rename, delete."""

from __future__ import annotations

import re
import secrets
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer

from stepaudio_api.errors import Conflict
from stepaudio_api.store.database import Database
from stepaudio_api.store.tables import VoiceProfile, utc_now

ID_PREFIX = "voice_"
VOICE_ID = re.compile(r"voice_[0-9a-f]{24}")
EDITABLE = ("name", "transcript", "description", "language")


def new_voice_id() -> str:
    return ID_PREFIX + secrets.token_hex(12)


def name_taken(name: str) -> Conflict:
    return Conflict(
        f"A voice named '{name}' already exists; choose another name or delete that voice",
        param="name",
        code="voice_name_taken",
    )


class VoiceProfileStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def create(self, **fields: Any) -> VoiceProfile:
        """Insert a profile from VoiceProfile's columns (id and timestamps are filled in);
        a name already in use is a 409, checked first and again by the unique index."""
        now = utc_now()
        profile = VoiceProfile(id=new_voice_id(), created_at=now, updated_at=now, **fields)
        try:
            async with self.database.sessions.begin() as session:
                if await self._name_in_use(session, profile.name):
                    raise name_taken(profile.name)
                session.add(profile)
        except IntegrityError:  # another request took the name between check and insert
            raise name_taken(profile.name) from None
        return profile

    async def list(self) -> list[VoiceProfile]:
        """Every profile, oldest first, without its audio (listings never need it)."""
        query = (
            select(VoiceProfile)
            .options(defer(VoiceProfile.audio, raiseload=True))
            .order_by(VoiceProfile.created_at, VoiceProfile.id)
        )
        async with self.database.sessions() as session:
            return list((await session.scalars(query)).all())

    async def get(self, voice_id: str) -> VoiceProfile | None:
        async with self.database.sessions() as session:
            return await session.get(VoiceProfile, voice_id)

    async def get_by_name(self, name: str) -> VoiceProfile | None:
        async with self.database.sessions() as session:
            return await session.scalar(select(VoiceProfile).where(VoiceProfile.name == name))

    async def update(self, voice_id: str, changes: dict[str, Any]) -> VoiceProfile | None:
        """Change the editable fields given; an edited transcript counts as uploaded."""
        values = {k: v for k, v in changes.items() if k in EDITABLE}
        new_name = values.get("name")
        try:
            async with self.database.sessions.begin() as session:
                profile = await session.get(VoiceProfile, voice_id)
                if profile is None:
                    return None
                if new_name is not None and new_name != profile.name:
                    if await self._name_in_use(session, new_name):
                        raise name_taken(new_name)
                for key, value in values.items():
                    setattr(profile, key, value)
                if "transcript" in values:
                    profile.transcript_source = "uploaded"
                profile.updated_at = utc_now()
        except IntegrityError:
            raise name_taken(str(new_name)) from None
        return profile

    async def record_preview(self, voice_id: str, similarity: float, model: str) -> None:
        """Keep the last whole preview's similarity to the clip (not an edit: updated_at
        stays); nothing when the voice was deleted meanwhile."""
        async with self.database.sessions.begin() as session:
            profile = await session.get(VoiceProfile, voice_id)
            if profile is not None:
                profile.preview_similarity = similarity
                profile.preview_model = model
                profile.previewed_at = utc_now()

    async def delete(self, voice_id: str) -> bool:
        async with self.database.sessions.begin() as session:
            result = await session.execute(delete(VoiceProfile).where(VoiceProfile.id == voice_id))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    @staticmethod
    async def _name_in_use(session: Any, name: str) -> bool:
        found = await session.scalar(select(VoiceProfile.id).where(VoiceProfile.name == name))
        return found is not None
