"""Realtime sessions and their conversation items, kept as they happen, for /admin/sessions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from stepaudio_api.store.database import Database
from stepaudio_api.store.tables import ConversationItem, RealtimeSession, utc_now


class RealtimeSessionStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def open(self, session_id: str, key_id: str | None, model: str, session_type: str,
                   config: dict[str, Any]) -> None:  # fmt: skip
        async with self.database.sessions.begin() as session:
            session.add(RealtimeSession(id=session_id, key_id=key_id, model=model,
                                        session_type=session_type, status="active",
                                        config=config, created_at=utc_now()))  # fmt: skip

    async def save_item(self, session_id: str, position: int, item: dict[str, Any]) -> None:
        """Insert or replace one item (its latest state: a transcript, a truncation)."""
        dialect = postgresql if self.database.dialect == "postgresql" else sqlite
        values = {"id": item["id"], "session_id": session_id, "position": position,
                  "type": item["type"], "role": item.get("role"), "status": item["status"],
                  "content": [item], "created_at": utc_now()}  # fmt: skip
        statement = dialect.insert(ConversationItem).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=["session_id", "id"],
            set_={"status": values["status"], "content": values["content"],
                  "position": position},
        )  # fmt: skip
        async with self.database.sessions.begin() as session:
            await session.execute(statement)

    async def close(self, session_id: str, config: dict[str, Any], totals: dict[str, Any]) -> None:
        async with self.database.sessions.begin() as session:
            row = await session.get(RealtimeSession, session_id)
            if row is None:
                return
            row.status, row.closed_at, row.config = "closed", utc_now(), config
            for key, value in totals.items():
                setattr(row, key, value)

    async def list(self, limit: int = 50, key_id: str | None = None) -> list[dict[str, Any]]:
        query = select(RealtimeSession).order_by(RealtimeSession.created_at.desc()).limit(limit)
        if key_id:
            query = query.where(RealtimeSession.key_id == key_id)
        counts = (select(ConversationItem.session_id, func.count().label("items"))
                  .group_by(ConversationItem.session_id).subquery())  # fmt: skip
        query = query.add_columns(counts.c["items"]).outerjoin(
            counts, counts.c.session_id == RealtimeSession.id
        )
        async with self.database.sessions() as session:
            rows = (await session.execute(query)).all()
        return [_session(row[0]) | {"items": row[1] or 0} for row in rows]

    async def get(self, session_id: str) -> dict[str, Any] | None:
        async with self.database.sessions() as session:
            row = await session.get(RealtimeSession, session_id)
            if row is None:
                return None
            items = (await session.execute(
                select(ConversationItem).where(ConversationItem.session_id == session_id)
                .order_by(ConversationItem.position)
            )).scalars().all()  # fmt: skip
        return _session(row) | {"items": [i.content[0] for i in items]}


def _session(row: RealtimeSession) -> dict[str, Any]:
    return {
        "id": row.id, "object": "realtime.session", "key_id": row.key_id, "model": row.model,
        "type": row.session_type, "status": row.status, "config": row.config,
        "audio_seconds_in": round(row.audio_seconds_in, 3),
        "audio_seconds_out": round(row.audio_seconds_out, 3),
        "input_tokens": row.input_tokens, "output_tokens": row.output_tokens,
        "created_at": int(row.created_at.timestamp()),
        "closed_at": int(row.closed_at.timestamp()) if row.closed_at else None,
    }  # fmt: skip
