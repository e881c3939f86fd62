"""The database schema, as SQLAlchemy 2 declarative tables; migrations/ follows it exactly."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Constraint names are fixed so that migrations name them the same way on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp that always comes back timezone-aware in UTC (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(dt.UTC) if value is not None else None

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def storable(value: str | None) -> str | None:
    """Text as every database keeps it: PostgreSQL refuses NUL in text, and no database can
    encode a lone surrogate; a transcript an upstream wrote, a name a form carried, may hold
    either."""
    if value is None or ("\x00" not in value and value.isprintable()):
        return value
    value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


class FreeText(TypeDecorator[str]):
    """Text from outside (clients, upstreams): stored as ``storable`` makes it."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return storable(value)


class FreeString(FreeText):
    """A bounded string from outside: ``FreeString(200)``."""

    impl = String
    cache_ok = True


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(FreeString(200))
    scope: Mapped[str] = mapped_column(String(16))  # "admin" or "user"
    # SHA-256 of the secret: secrets are 256-bit random, so a fast hash is not guessable.
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    redacted: Mapped[str] = mapped_column(String(32))  # "sk-sa-…abcd", for listings
    quota_characters: Mapped[int | None] = mapped_column(BigInteger)
    quota_audio_seconds: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utc_now)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class QuotaCounter(Base):
    """What a key has been charged in one calendar month; the row quota checks update."""

    __tablename__ = "quota_counters"

    key_id: Mapped[str] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    period: Mapped[str] = mapped_column(String(7), primary_key=True)  # "2026-11"
    characters: Mapped[int] = mapped_column(BigInteger, default=0)
    audio_milliseconds: Mapped[int] = mapped_column(BigInteger, default=0)


class UsageRecord(Base):
    """One per metered request, inserted as `reserved` before engine work, finished after."""

    __tablename__ = "usage_records"
    __table_args__ = (Index("ix_usage_records_day_key", "day", "key_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
    model: Mapped[str] = mapped_column(String(200))
    capability: Mapped[str] = mapped_column(String(32))
    # reserved -> completed | failed | cancelled; reserved rows left by a crash -> interrupted
    status: Mapped[str] = mapped_column(String(16))
    input_characters: Mapped[int] = mapped_column(Integer, default=0)
    audio_seconds_in: Mapped[float] = mapped_column(Float, default=0.0)
    audio_seconds_out: Mapped[float] = mapped_column(Float, default=0.0)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    # What the quota counter was charged when the request was let in.
    charged_characters: Mapped[int] = mapped_column(BigInteger, default=0)
    charged_audio_milliseconds: Mapped[int] = mapped_column(BigInteger, default=0)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    period: Mapped[str] = mapped_column(String(7))
    day: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utc_now)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class VoiceProfile(Base):
    """A cloned voice: its prepared reference clip (FLAC) and the clip's transcript."""

    __tablename__ = "voice_profiles"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(FreeString(100), unique=True)
    transcript: Mapped[str] = mapped_column(FreeText)
    transcript_source: Mapped[str] = mapped_column(String(16))  # "uploaded" or "recognized"
    language: Mapped[str | None] = mapped_column(FreeString(16))
    description: Mapped[str | None] = mapped_column(FreeText)
    audio: Mapped[bytes] = mapped_column(LargeBinary)
    sample_rate: Mapped[int] = mapped_column(Integer)
    duration_seconds: Mapped[float] = mapped_column(Float)
    speech_seconds: Mapped[float] = mapped_column(Float)
    loudness_lufs: Mapped[float] = mapped_column(Float)
    denoised: Mapped[bool] = mapped_column(default=False)
    source_filename: Mapped[str | None] = mapped_column(FreeString(255))
    source_duration_seconds: Mapped[float] = mapped_column(Float)
    consent: Mapped[str | None] = mapped_column(FreeString(200))
    created_by: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utc_now)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utc_now)
    preview_similarity: Mapped[float | None] = mapped_column(Float)
    """The speaker-embedding cosine similarity of the last whole preview to the clip."""
    preview_model: Mapped[str | None] = mapped_column(String(100))
    previewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class VoiceCodecPrompt(Base):
    """A cloned voice as a codec engine's decoder clones it: the prompt clip's interleaved
    audio-token ids, its log-mel and its speaker embedding, computed once at upload."""

    __tablename__ = "voice_codec_prompts"

    voice_id: Mapped[str] = mapped_column(
        ForeignKey("voice_profiles.id", ondelete="CASCADE"), primary_key=True
    )
    codec: Mapped[str] = mapped_column(String(100), primary_key=True)
    """The codec engine's name (``[engines.<name>]``): another codec has other weights."""
    token_ids: Mapped[bytes] = mapped_column(LargeBinary)
    """int32 little-endian LLM ids, 2 linguistic then 3 semantic per 120 ms."""
    mel: Mapped[bytes] = mapped_column(LargeBinary)
    """float32 little-endian, ``mel_frames`` x ``mel_bins``."""
    mel_frames: Mapped[int] = mapped_column(Integer)
    mel_bins: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[bytes] = mapped_column(LargeBinary)
    """float32 little-endian speaker embedding (192 values for CAM++)."""
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utc_now)


class VoiceConsent(Base):
    """A speaker's recorded consent to a voice cloned from them (OpenAI's voice consents):
    the recording as 16-bit FLAC, kept for the key that uploaded it."""

    __tablename__ = "voice_consents"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    """``cons_`` and 24 hex digits, the first 12 the creation time in ms: ids sort by age."""
    key_id: Mapped[str | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(FreeString(100))
    language: Mapped[str] = mapped_column(FreeString(16))
    audio: Mapped[bytes] = mapped_column(LargeBinary)
    sample_rate: Mapped[int] = mapped_column(Integer)
    duration_seconds: Mapped[float] = mapped_column(Float)
    speech_seconds: Mapped[float] = mapped_column(Float)
    source_filename: Mapped[str | None] = mapped_column(FreeString(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utc_now)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utc_now)


class ChatAudioReply(Base):
    """A spoken chat reply a later turn may refer to by ``audio.id`` until it expires."""

    __tablename__ = "chat_audio_replies"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    key_id: Mapped[str | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), index=True
    )
    transcript: Mapped[str] = mapped_column(FreeText)
    voice: Mapped[str] = mapped_column(FreeString(200))
    audio_seconds: Mapped[float] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utc_now)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class RealtimeSession(Base):
    __tablename__ = "realtime_sessions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    key_id: Mapped[str | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL"), index=True
    )
    model: Mapped[str] = mapped_column(String(200))
    session_type: Mapped[str] = mapped_column(String(16))  # "realtime" or "transcription"
    status: Mapped[str] = mapped_column(String(16))  # "active", "closed"
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    audio_seconds_in: Mapped[float] = mapped_column(Float, default=0.0)
    audio_seconds_out: Mapped[float] = mapped_column(Float, default=0.0)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utc_now)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ConversationItem(Base):
    """One item of a realtime session's conversation, as last seen (its id is the client's or
    ours, unique within its session)."""

    __tablename__ = "conversation_items"
    __table_args__ = (Index("ix_conversation_items_session_position", "session_id", "position"),)

    session_id: Mapped[str] = mapped_column(
        ForeignKey("realtime_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(32))  # message, function_call, function_call_output
    role: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    content: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utc_now)


class BatchJob(Base):
    __tablename__ = "batch_jobs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    key_id: Mapped[str | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL"), index=True
    )
    endpoint: Mapped[str] = mapped_column(String(100))
    # validating, in_progress, completed, failed, cancelled, expired (OpenAI's batch states)
    status: Mapped[str] = mapped_column(String(16))
    requests: Mapped[list[Any]] = mapped_column(JSON, default=list)
    results: Mapped[list[Any] | None] = mapped_column(JSON)
    errors: Mapped[list[Any] | None] = mapped_column(JSON)
    total_requests: Mapped[int] = mapped_column(Integer, default=0)
    completed_requests: Mapped[int] = mapped_column(Integer, default=0)
    failed_requests: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utc_now)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
