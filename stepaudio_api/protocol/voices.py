"""/v1/audio/voices and /admin/voices: voice objects, lists, deletions, edits, previews."""

from typing import Literal

import msgspec


class VoiceObject(msgspec.Struct, kw_only=True, omit_defaults=True):
    object: str
    """Always `audio.voice`."""
    id: str
    """The voice identifier: `voice_...` for a cloned voice, the name for a built-in one."""
    name: str
    created_at: int
    """The Unix timestamp (in seconds) for when the voice was created."""
    type: str
    """How the voice was created: `audio_sample` (cloned), or ours, `builtin` or `plugin`."""
    # ours
    models: list[str]
    """The speech models that can speak this voice (none: no model here can clone)."""
    language: str | None = None
    description: str | None = None
    alias_of: str | None = None
    """For an OpenAI voice name: the built-in voice that speaks it."""
    plugin: str | None = None
    """For a voice from a plugin's voice pack (`type` "plugin"): that plugin."""
    duration: float | None = None
    """Seconds of the prepared reference clip."""
    speech_seconds: float | None = None
    sample_rate: int | None = None
    transcript: str | None = None
    transcript_source: str | None = None
    """`uploaded` (given, or edited) or `recognized` (written by the transcription model)."""
    # admin only
    updated_at: int | None = None
    loudness_lufs: float | None = None
    denoised: bool | None = None
    source_filename: str | None = None
    source_duration: float | None = None
    consent: str | None = None
    created_by: str | None = None
    preview_similarity: float | None = None
    """How alike the last whole preview's voice was to the reference clip's: the cosine
    similarity of their speaker embeddings, -1 to 1 (one speaker's recordings lie at about
    0.8-0.9, two speakers' below 0.75); unset until a preview is made."""
    preview_model: str | None = None
    """The speech model that spoke that preview."""
    previewed_at: int | None = None


class VoiceList(msgspec.Struct):
    data: list[VoiceObject]
    object: str = "list"
    has_more: bool = False


class VoiceDeleted(msgspec.Struct):
    id: str
    object: str = "audio.voice.deleted"
    deleted: bool = True


class VoiceUpdateRequest(msgspec.Struct, forbid_unknown_fields=True):
    name: str | msgspec.UnsetType = msgspec.UNSET
    transcript: str | msgspec.UnsetType = msgspec.UNSET
    """What is said in the reference clip; the cloning prompt pairs the two."""
    description: str | msgspec.UnsetType | None = msgspec.UNSET
    language: str | msgspec.UnsetType | None = msgspec.UNSET


class VoicePreviewRequest(msgspec.Struct, forbid_unknown_fields=True):
    input: str
    """The text to speak in the cloned voice."""
    model: str | None = None
    """A speech model; default the first one configured."""
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] = "mp3"


class VoiceForm(msgspec.Struct, kw_only=True):
    """POST /v1/audio/voices, a multipart form: a voice cloned from an audio sample."""

    name: str
    audio_sample: bytes
    """2 to 30 s of speech in any common format, at most 10 MiB."""
    consent: str | msgspec.UnsetType = msgspec.UNSET
    """The id of the speaker's consent recording."""
    type: Literal["audio_sample"] = "audio_sample"
    transcript: str | msgspec.UnsetType = msgspec.UNSET
    """Ours: what is said in the sample; default: recognised."""


class AdminVoiceForm(VoiceForm, kw_only=True):
    """POST /admin/voices: a voice profile with the admin's own fields."""

    description: str | msgspec.UnsetType = msgspec.UNSET
    language: str | msgspec.UnsetType = msgspec.UNSET
    denoise: bool | msgspec.UnsetType = msgspec.UNSET
    """Remove background noise from the sample (default voices.denoise)."""
