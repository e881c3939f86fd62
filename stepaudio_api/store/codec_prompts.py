"""Cloned voices as the codec engines clone them: one prompt per voice and codec engine."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select

from stepaudio_api.engines.codec import CodecPrompt
from stepaudio_api.store.database import Database
from stepaudio_api.store.tables import VoiceCodecPrompt, utc_now


def _to_row(voice_id: str, codec: str, prompt: CodecPrompt) -> VoiceCodecPrompt:
    mel = np.ascontiguousarray(prompt.mel, dtype="<f4")
    return VoiceCodecPrompt(
        voice_id=voice_id,
        codec=codec,
        token_ids=np.asarray(prompt.ids, dtype="<i4").tobytes(),
        mel=mel.tobytes(),
        mel_frames=int(mel.shape[0]),
        mel_bins=int(mel.shape[1]),
        speaker=np.asarray(prompt.speaker, dtype="<f4").tobytes(),
        created_at=utc_now(),
    )


def _from_row(row: VoiceCodecPrompt, transcript: str) -> CodecPrompt:
    return CodecPrompt(
        ids=np.frombuffer(row.token_ids, dtype="<i4").astype(np.int64),
        mel=np.frombuffer(row.mel, dtype="<f4").reshape(row.mel_frames, row.mel_bins).copy(),
        speaker=np.frombuffer(row.speaker, dtype="<f4").copy(),
        transcript=transcript,
    )


class CodecPromptStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def put(self, voice_id: str, codec: str, prompt: CodecPrompt) -> None:
        """Store (or replace) the prompt of ``voice_id`` for the codec engine ``codec``."""
        async with self.database.sessions.begin() as session:
            await session.merge(_to_row(voice_id, codec, prompt))

    async def get(self, voice_id: str, codec: str, transcript: str = "") -> CodecPrompt | None:
        query = select(VoiceCodecPrompt).where(
            VoiceCodecPrompt.voice_id == voice_id, VoiceCodecPrompt.codec == codec
        )
        async with self.database.sessions() as session:
            row = (await session.scalars(query)).first()
        return None if row is None else _from_row(row, transcript)

    async def codecs(self, voice_id: str) -> list[str]:
        """The codec engines that hold a prompt for the voice."""
        query = select(VoiceCodecPrompt.codec).where(VoiceCodecPrompt.voice_id == voice_id)
        async with self.database.sessions() as session:
            return sorted((await session.scalars(query)).all())
