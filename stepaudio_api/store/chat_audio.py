"""Spoken chat replies, kept by ``audio.id`` so later turns can refer to them until they expire."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Collection

from sqlalchemy import delete, select

from stepaudio_api.store.database import Database
from stepaudio_api.store.tables import ChatAudioReply, utc_now

ID_PREFIX = "audio_"


def new_audio_id() -> str:
    return ID_PREFIX + secrets.token_hex(12)


class ChatAudioStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def save(
        self,
        audio_id: str,
        key_id: str | None,
        transcript: str,
        voice: str,
        audio_seconds: float,
        expires_at: dt.datetime,
    ) -> None:
        """Keep a reply; replies past their expiry are removed in the same transaction."""
        now = utc_now()
        async with self.database.sessions.begin() as session:
            await session.execute(delete(ChatAudioReply).where(ChatAudioReply.expires_at <= now))
            session.add(
                ChatAudioReply(
                    id=audio_id,
                    key_id=key_id,
                    transcript=transcript,
                    voice=voice,
                    audio_seconds=audio_seconds,
                    created_at=now,
                    expires_at=expires_at,
                )
            )

    async def transcripts(self, audio_ids: Collection[str], key_id: str | None) -> dict[str, str]:
        """The transcripts of the replies with these ids that the caller made and that have
        not expired (a reply made without a key is visible only to calls without one)."""
        if not audio_ids:
            return {}
        owner = (
            ChatAudioReply.key_id.is_(None) if key_id is None else ChatAudioReply.key_id == key_id
        )
        query = select(ChatAudioReply.id, ChatAudioReply.transcript).where(
            ChatAudioReply.id.in_(list(audio_ids)),
            ChatAudioReply.expires_at > utc_now(),
            owner,
        )
        async with self.database.sessions() as session:
            rows = (await session.execute(query)).all()
        return {row.id: row.transcript for row in rows}
