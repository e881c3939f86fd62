"""store/voices: unique names hold under races, where the early check cannot see the other."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from stepaudio_api.errors import Conflict
from stepaudio_api.store.database import Database
from stepaudio_api.store.migrate import upgrade_database
from stepaudio_api.store.voices import VOICE_ID, VoiceProfileStore

FIELDS: dict[str, Any] = {
    "transcript": "t", "transcript_source": "uploaded", "audio": b"fLaC", "sample_rate": 24000,
    "duration_seconds": 3.0, "speech_seconds": 2.5, "loudness_lufs": -23.0,
    "source_duration_seconds": 3.2,
}  # fmt: skip


def test_the_unique_index_decides_a_race(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    upgrade_database(database_url)

    async def scenario() -> None:
        database = Database(database_url)
        store = VoiceProfileStore(database)
        try:
            # every early check misses, as when parallel requests check before either inserts
            monkeypatch.setattr(store, "_name_in_use", lambda *args: asyncio.sleep(0, False))
            results = await asyncio.gather(
                *[store.create(name="same", **FIELDS) for _ in range(3)], return_exceptions=True
            )
            won = [r for r in results if not isinstance(r, BaseException)]
            lost = [r for r in results if isinstance(r, Conflict)]
            assert len(won) == 1 and len(lost) == 2 and VOICE_ID.fullmatch(won[0].id)
            assert {e.code for e in lost} == {"voice_name_taken"}

            other = await store.create(name="other", **FIELDS)
            with pytest.raises(Conflict):
                await store.update(other.id, {"name": "same"})
            edited = await store.update(other.id, {"transcript": "new", "audio": b"ignored"})
            assert edited is not None and edited.transcript_source == "uploaded"
            assert (await store.get(other.id)).audio == b"fLaC"  # type: ignore[union-attr]
            assert [p.name for p in await store.list()] == ["same", "other"]
            assert await store.delete(other.id) and not await store.delete(other.id)
            assert await store.get_by_name("other") is None
        finally:
            await database.dispose()

    asyncio.run(scenario())
