"""Usage records and quota counters: admit a request (charging its quota), then finish it."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from stepaudio_api.store.database import Database
from stepaudio_api.store.tables import ApiKey, QuotaCounter, UsageRecord, utc_now

GROUPS = ("key", "model", "capability", "day")
FINISHED = ("completed", "failed", "cancelled")


def month_of(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m")


def seconds_to_next_month(moment: dt.datetime) -> int:
    first = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return max(1, math.ceil((following - moment).total_seconds()))


@dataclass(slots=True)
class Measured:
    """What a request consumed, filled in by the serving layer as the work goes."""

    input_characters: int = 0
    audio_seconds_in: float = 0.0
    audio_seconds_out: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a quota refused: which quota, its limit, and what is already used this month."""

    quota: str
    limit: float
    used: float
    requested: float


class UsageLedger:
    def __init__(self, database: Database) -> None:
        self.database = database

    def _insert_ignore(self, key_id: str, period: str) -> Any:
        dialect = postgresql if self.database.dialect == "postgresql" else sqlite
        return (
            dialect.insert(QuotaCounter)
            .values(key_id=key_id, period=period, characters=0, audio_milliseconds=0)
            .on_conflict_do_nothing()
        )

    async def admit(
        self,
        request_id: str,
        key_id: str | None,
        model: str,
        capability: str,
        characters: int = 0,
        audio_seconds: float = 0.0,
    ) -> Refusal | None:
        """In one transaction: charge the key's counter if its quota allows (a conditional
        UPDATE, so parallel requests cannot overdraw) and insert the `reserved` record."""
        now = utc_now()
        period = month_of(now)
        milliseconds = math.ceil(audio_seconds * 1000)
        async with self.database.sessions.begin() as session:
            if key_id is not None:
                await session.execute(self._insert_ignore(key_id, period))
                quota_chars = select(ApiKey.quota_characters).where(ApiKey.id == key_id)
                quota_audio = select(ApiKey.quota_audio_seconds).where(ApiKey.id == key_id)
                conditions: list[ColumnElement[bool]] = [
                    QuotaCounter.key_id == key_id,
                    QuotaCounter.period == period,
                ]
                if characters:
                    limit = quota_chars.scalar_subquery()
                    conditions.append(
                        or_(limit.is_(None), QuotaCounter.characters + characters <= limit)
                    )
                if milliseconds:
                    limit = quota_audio.scalar_subquery()
                    conditions.append(
                        or_(
                            limit.is_(None),
                            QuotaCounter.audio_milliseconds + milliseconds <= limit * 1000,
                        )
                    )
                result = await session.execute(
                    update(QuotaCounter)
                    .where(and_(*conditions))
                    .values(
                        characters=QuotaCounter.characters + characters,
                        audio_milliseconds=QuotaCounter.audio_milliseconds + milliseconds,
                    )
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount == 0:  # type: ignore[attr-defined]
                    counter = await session.get(QuotaCounter, (key_id, period))
                    key = await session.get(ApiKey, key_id)
                    assert counter is not None and key is not None
                    if characters and key.quota_characters is not None:
                        refusal = Refusal(
                            "characters", key.quota_characters, counter.characters, characters
                        )
                    else:
                        refusal = Refusal(
                            "audio_seconds",
                            key.quota_audio_seconds or 0.0,
                            counter.audio_milliseconds / 1000,
                            audio_seconds,
                        )
                    await session.rollback()
                    return refusal
            session.add(
                UsageRecord(
                    request_id=request_id,
                    key_id=key_id,
                    model=model,
                    capability=capability,
                    status="reserved",
                    input_characters=characters,
                    audio_seconds_in=audio_seconds,
                    charged_characters=characters,
                    charged_audio_milliseconds=milliseconds,
                    period=period,
                    day=now.date(),
                    created_at=now,
                )
            )
        return None

    async def finish(
        self, request_id: str, status: str, measured: Measured, latency_ms: float, refund: bool
    ) -> None:
        """Write the outcome into the request's one record; a refund gives the charge back."""
        assert status in FINISHED
        async with self.database.sessions.begin() as session:
            record = await session.scalar(
                select(UsageRecord).where(UsageRecord.request_id == request_id)
            )
            if record is None or record.status != "reserved":
                return
            record.status = status
            record.input_characters = measured.input_characters
            record.audio_seconds_in = round(measured.audio_seconds_in, 3)
            record.audio_seconds_out = round(measured.audio_seconds_out, 3)
            record.input_tokens = measured.input_tokens
            record.output_tokens = measured.output_tokens
            record.latency_ms = round(latency_ms, 2)
            record.finished_at = utc_now()
            if refund and record.key_id is not None:
                await session.execute(
                    update(QuotaCounter)
                    .where(
                        QuotaCounter.key_id == record.key_id,
                        QuotaCounter.period == record.period,
                    )
                    .values(
                        characters=QuotaCounter.characters - record.charged_characters,
                        audio_milliseconds=QuotaCounter.audio_milliseconds
                        - record.charged_audio_milliseconds,
                    )
                )
                record.charged_characters = 0
                record.charged_audio_milliseconds = 0

    async def mark_interrupted(self, older_than: dt.timedelta = dt.timedelta(0)) -> int:
        """Records a killed process left `reserved`: they keep their charge, marked
        `interrupted`, so that nothing is lost and nothing is counted twice."""
        cutoff = utc_now() - older_than
        async with self.database.sessions.begin() as session:
            result = await session.execute(
                update(UsageRecord)
                .where(UsageRecord.status == "reserved", UsageRecord.created_at <= cutoff)
                .values(status="interrupted")
            )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def month_usage(self, key_ids: Sequence[str], period: str) -> dict[str, QuotaCounter]:
        if not key_ids:
            return {}
        query = select(QuotaCounter).where(
            QuotaCounter.key_id.in_(key_ids), QuotaCounter.period == period
        )
        async with self.database.sessions() as session:
            return {row.key_id: row for row in (await session.scalars(query)).all()}

    async def records(
        self,
        request_id: str | None = None,
        key_id: str | None = None,
        limit: int = 100,
        after: int | None = None,
    ) -> list[UsageRecord]:
        query = select(UsageRecord).order_by(UsageRecord.id).limit(limit)
        if request_id is not None:
            query = query.where(UsageRecord.request_id == request_id)
        if key_id is not None:
            query = query.where(UsageRecord.key_id == key_id)
        if after is not None:
            query = query.where(UsageRecord.id > after)
        async with self.database.sessions() as session:
            return list((await session.scalars(query)).all())

    async def aggregate(
        self,
        group_by: Sequence[str] = GROUPS,
        start: dt.date | None = None,
        end: dt.date | None = None,
        key_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Totals per group over [start, end] (days, inclusive), in group order."""
        columns: dict[str, Any] = {
            "key": [UsageRecord.key_id.label("key_id"), ApiKey.name.label("key_name")],
            "model": [UsageRecord.model],
            "capability": [UsageRecord.capability],
            "day": [UsageRecord.day],
        }
        selected = [c for group in group_by for c in columns[group]]
        completed = case((UsageRecord.status == "completed", 1), else_=0)
        query = (
            select(
                *selected,
                func.count().label("requests"),
                func.sum(completed).label("completed_requests"),
                func.sum(UsageRecord.input_characters).label("input_characters"),
                func.sum(UsageRecord.audio_seconds_in).label("audio_seconds_in"),
                func.sum(UsageRecord.audio_seconds_out).label("audio_seconds_out"),
                func.sum(UsageRecord.input_tokens).label("input_tokens"),
                func.sum(UsageRecord.output_tokens).label("output_tokens"),
                func.avg(UsageRecord.latency_ms).label("mean_latency_ms"),
            )
            .select_from(UsageRecord)
            .outerjoin(ApiKey, ApiKey.id == UsageRecord.key_id)
            .group_by(*selected)
            .order_by(*selected)
        )
        if start is not None:
            query = query.where(UsageRecord.day >= start)
        if end is not None:
            query = query.where(UsageRecord.day <= end)
        if key_id is not None:
            query = query.where(UsageRecord.key_id == key_id)
        async with self.database.sessions() as session:
            rows = (await session.execute(query)).mappings().all()
        return [_tidy(dict(row)) for row in rows]


def _tidy(row: dict[str, Any]) -> dict[str, Any]:
    for name in ("audio_seconds_in", "audio_seconds_out", "mean_latency_ms"):
        if row.get(name) is not None:
            row[name] = round(float(row[name]), 3)
    for name in ("requests", "completed_requests", "input_characters", "input_tokens",
                 "output_tokens"):  # fmt: skip
        row[name] = int(row[name] or 0)
    if isinstance(row.get("day"), dt.date):
        row["day"] = row["day"].isoformat()
    return row
