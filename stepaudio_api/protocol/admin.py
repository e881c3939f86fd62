"""Wire types of the admin API: keys and usage."""

from typing import Literal

import msgspec


class KeyCreateRequest(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    scope: Literal["admin", "user"] = "user"
    """Admin keys may call /admin routes; user keys only the /v1 API."""
    quota_characters: int | None = None
    """Characters of speech input a calendar month; null is unlimited."""
    quota_audio_seconds: float | None = None
    """Seconds of audio transcribed a calendar month; null is unlimited."""


class KeyUpdateRequest(msgspec.Struct, forbid_unknown_fields=True):
    name: str | msgspec.UnsetType = msgspec.UNSET
    quota_characters: int | msgspec.UnsetType | None = msgspec.UNSET
    quota_audio_seconds: float | msgspec.UnsetType | None = msgspec.UNSET


class MonthUsage(msgspec.Struct):
    period: str
    characters: int
    audio_seconds: float


class KeyObject(msgspec.Struct, omit_defaults=True, tag_field="object", tag="api_key"):
    """An API key; ``object`` is always "api_key" (a tag, so it is written though it is the
    only value)."""

    id: str
    name: str
    scope: str
    redacted_value: str
    created_at: int
    quota_characters: int | None
    quota_audio_seconds: float | None
    usage: MonthUsage
    revoked_at: int | None = None
    value: str | None = None
    """The secret: present only in the response that created the key."""


class KeyList(msgspec.Struct):
    data: list[KeyObject]
    object: str = "list"


class KeyDeleted(msgspec.Struct):
    id: str
    deleted: bool = True
    object: str = "api_key.deleted"
