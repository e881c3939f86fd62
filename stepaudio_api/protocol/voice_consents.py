"""/v1/audio/voice_consents and /admin/voice_consents: consent objects, pages, deletions, edits."""

from typing import Literal

import msgspec


class VoiceConsentForm(msgspec.Struct, kw_only=True):
    """POST /v1/audio/voice_consents, a multipart form: a speaker reading a consent statement."""

    language: str
    """The BCP 47 language tag for the consent phrase (for example, `en-US`)."""
    name: str
    """The label to use for this consent recording."""
    recording: bytes
    """The consent audio recording file. Maximum size is 10 MiB."""


class VoiceConsentObject(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A consent recording used to authorize creation of a custom voice."""

    object: Literal["audio.voice_consent"]
    """The object type, which is always `audio.voice_consent`."""
    id: str
    """The consent recording identifier."""
    created_at: int
    """The Unix timestamp (in seconds) for when the consent recording was created."""
    language: str
    """The BCP 47 language tag for the consent phrase (for example, `en-US`)."""
    name: str
    """The label provided when the consent recording was uploaded."""
    # admin only
    key_id: str | None = None
    """The API key that uploaded it (none: uploaded without a key)."""
    duration: float | None = None
    """Seconds of the recording."""
    speech_seconds: float | None = None
    sample_rate: int | None = None
    source_filename: str | None = None
    updated_at: int | None = None


class VoiceConsentList(msgspec.Struct, kw_only=True):
    data: list[VoiceConsentObject]
    first_id: str | None
    last_id: str | None
    has_more: bool
    object: Literal["list"] = "list"


class VoiceConsentDeleted(msgspec.Struct):
    id: str
    """The consent recording identifier."""
    deleted: bool = True
    object: Literal["audio.voice_consent"] = "audio.voice_consent"


class VoiceConsentUpdateRequest(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    """The updated label for this consent recording."""
