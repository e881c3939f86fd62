"""The usage ledger in-process, on each database: quota admission is atomic under
concurrency, refunds give charges back, and interrupted records are marked, not lost."""

from __future__ import annotations

import asyncio
import secrets

from stepaudio_api.store.api_keys import ApiKeyStore
from stepaudio_api.store.database import Database
from stepaudio_api.store.migrate import upgrade_database
from stepaudio_api.store.usage import Measured, UsageLedger


def _request_id() -> str:
    return "req_" + secrets.token_hex(16)


def test_parallel_admissions_never_exceed_the_quota(database_url: str) -> None:
    upgrade_database(database_url)

    async def run() -> tuple[int, int, int]:
        database = Database(database_url)
        try:
            key = (await ApiKeyStore(database).create("seven", quota_characters=70)).key
            ledger = UsageLedger(database)
            outcomes = await asyncio.gather(*(
                ledger.admit(_request_id(), key.id, "m", "speech", characters=10)
                for _ in range(40)
            ))  # fmt: skip
            admitted = sum(outcome is None for outcome in outcomes)
            records = await ledger.records(key_id=key.id, limit=1000)
            counters = await ledger.month_usage([key.id], records[0].period)
            return admitted, len(records), counters[key.id].characters
        finally:
            await database.dispose()

    admitted, records, charged = asyncio.run(run())
    assert admitted == 7 and records == 7 and charged == 70


def test_refunds_and_interrupted_records(database_url: str) -> None:
    upgrade_database(database_url)

    async def run() -> tuple[list[str], int, int]:
        database = Database(database_url)
        try:
            key = (await ApiKeyStore(database).create("r", quota_audio_seconds=30)).key
            ledger = UsageLedger(database)
            ids = [_request_id() for _ in range(3)]
            for request_id in ids:
                assert await ledger.admit(request_id, key.id, "m", "transcription",
                                          audio_seconds=10) is None  # fmt: skip
            refusal = await ledger.admit(_request_id(), key.id, "m", "transcription",
                                         audio_seconds=0.5)  # fmt: skip
            assert refusal is not None and refusal.quota == "audio_seconds"
            assert refusal.limit == 30 and refusal.used == 30
            await ledger.finish(ids[0], "failed", Measured(), 5.0, refund=True)
            await ledger.finish(ids[1], "completed", Measured(audio_seconds_in=10), 5.0, False)
            # finishing twice changes nothing: one request, one outcome
            await ledger.finish(ids[1], "failed", Measured(), 5.0, refund=True)
            marked = await ledger.mark_interrupted()
            records = await ledger.records(key_id=key.id)
            counters = await ledger.month_usage([key.id], records[0].period)
            return [r.status for r in records], marked, counters[key.id].audio_milliseconds
        finally:
            await database.dispose()

    statuses, marked, charged_ms = asyncio.run(run())
    assert statuses == ["failed", "completed", "interrupted"]
    assert marked == 1
    assert charged_ms == 20_000  # the failed request's 10 s were given back
