"""Voice consents: record a speaker's consent, list, read, rename and delete it, and check the
consent a cloned voice names; each key sees only its own consents."""

from __future__ import annotations

import re
from typing import BinaryIO

from stepaudio_api.audio.consent_recording import prepare_consent_recording
from stepaudio_api.audio.reference_clip import load_flac, samples_to_wav
from stepaudio_api.engines.worker_pool import WorkerPool
from stepaudio_api.errors import InvalidRequest, NotFound
from stepaudio_api.serving.voice_checks import MAX_LANGUAGE, MAX_NAME, check_size
from stepaudio_api.settings import Settings
from stepaudio_api.store.tables import VoiceConsent
from stepaudio_api.store.voice_consents import CONSENT_ID, Owner, VoiceConsentStore

LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")
"""The shape of a BCP 47 tag (`en`, `en-US`, `zh-Hant-HK`), not the registry's subtags."""
MAX_PAGE = 100
DEFAULT_PAGE = 20


def _not_found(consent_id: str) -> NotFound:
    message = f"No voice consent with id '{consent_id}'"
    return NotFound(message, param="consent_id", code="consent_not_found")


def check_consent_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= MAX_NAME:
        message = f"'name' must be 1 to {MAX_NAME} characters long"
        raise InvalidRequest(message, param="name", code="invalid_name")
    return name


def check_language(language: str) -> str:
    language = language.strip()
    if len(language) > MAX_LANGUAGE or not LANGUAGE_TAG.fullmatch(language):
        raise InvalidRequest(
            f"'language' must be a BCP 47 language tag of at most {MAX_LANGUAGE} characters "
            f"(for example en-US), not '{language[:40]}'",
            param="language",
            code="invalid_language",
        )
    return language


def check_page(after: str | None, limit: int | None) -> tuple[str | None, int]:
    """OpenAI's cursor: ``after`` an id from an earlier page, ``limit`` 1 to 100 (default 20)."""
    limit = DEFAULT_PAGE if limit is None else limit
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE}", param="limit")
    if after is not None and not CONSENT_ID.fullmatch(after):
        raise InvalidRequest(f"after must be a voice consent id, not '{after[:60]}'", param="after")
    return after, limit


class VoiceConsentServing:
    def __init__(self, settings: Settings, pool: WorkerPool, store: VoiceConsentStore) -> None:
        self.settings = settings
        self.pool = pool
        self.store = store

    async def create_consent(
        self,
        recording: bytes | BinaryIO,
        name: str,
        language: str,
        owner: str | None,
        filename: str | None = None,
    ) -> VoiceConsent:
        """Check the fields, then decode the recording whole (in a worker thread) to show it
        is audio with speech in it; every refusal is a 4xx naming the field."""
        name, language = check_consent_name(name), check_language(language)
        check_size(recording, self.settings.voices.max_upload_bytes, param="recording")
        async with self.pool.reserve():
            prepared = await self.pool.run(
                prepare_consent_recording, recording, sample_rate=self.settings.voices.sample_rate
            )
        return await self.store.create(
            key_id=owner,
            name=name,
            language=language,
            audio=prepared.flac,
            sample_rate=prepared.sample_rate,
            duration_seconds=round(prepared.duration, 3),
            speech_seconds=round(prepared.speech_seconds, 3),
            source_filename=filename[:255] if filename else None,
        )

    async def list_consents(
        self, owner: Owner, after: str | None, limit: int | None
    ) -> tuple[list[VoiceConsent], bool]:
        return await self.store.page(owner, *check_page(after, limit))

    async def get_consent(self, consent_id: str, owner: Owner) -> VoiceConsent:
        found = None
        if CONSENT_ID.fullmatch(consent_id):
            found = await self.store.get(consent_id, owner)
        if found is None:
            raise _not_found(consent_id)
        return found

    async def rename_consent(self, consent_id: str, owner: Owner, name: str) -> VoiceConsent:
        name = check_consent_name(name)
        renamed = None
        if CONSENT_ID.fullmatch(consent_id):
            renamed = await self.store.rename(consent_id, owner, name)
        if renamed is None:
            raise _not_found(consent_id)
        return renamed

    async def delete_consent(self, consent_id: str, owner: Owner) -> None:
        if not CONSENT_ID.fullmatch(consent_id) or not await self.store.delete(consent_id, owner):
            raise _not_found(consent_id)

    async def check_voice_consent(self, consent_id: str, owner: Owner) -> str:
        """The consent a new cloned voice names (its form's ``consent``): one of the owner's
        own, or a 400 that says so."""
        consent_id = consent_id.strip()
        if CONSENT_ID.fullmatch(consent_id) and await self.store.exists(consent_id, owner):
            return consent_id
        raise InvalidRequest(
            f"No voice consent with id '{consent_id[:60]}': upload the speaker's consent "
            "recording to POST /v1/audio/voice_consents, with the same API key, and send its id",
            param="consent",
            code="consent_not_found",
        )

    async def recording_audio(self, consent: VoiceConsent, audio_format: str) -> bytes:
        """The stored recording as FLAC (as stored) or 16-bit WAV."""
        if audio_format == "flac":
            return consent.audio
        samples, rate = await self.pool.run(load_flac, consent.audio)
        return await self.pool.run(samples_to_wav, samples, rate)
