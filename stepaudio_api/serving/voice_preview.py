"""A cloned voice's preview, scored: the audio streams to the admin as it is made, and once it
has all been made its voice is compared with the reference clip's (the cosine similarity of
their speaker embeddings), which /admin/voices/{id} then shows beside the model that spoke."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from contextlib import aclosing

from stepaudio_api.audio.decode import decode_audio
from stepaudio_api.audio.encode import DEFAULT_OUTPUT_RATE, streaming_wav_header, wav_with_sizes
from stepaudio_api.audio.reference_clip import load_flac
from stepaudio_api.engines.worker_pool import WorkerPool
from stepaudio_api.serving.byte_stream import ByteStream
from stepaudio_api.speakers.encoder import RATE
from stepaudio_api.speakers.similarity import voice_similarity
from stepaudio_api.store.tables import VoiceProfile
from stepaudio_api.store.voices import VoiceProfileStore

logger = logging.getLogger(__name__)
MAX_SCORED_BYTES = 32 * 2**20
"""A longer preview (some 11 minutes of 24 kHz WAV) streams, unscored, rather than be held."""


def preview_similarity(reference_flac: bytes, preview: bytes, response_format: str) -> float:
    """The similarity of the voice in an encoded preview to the one in the stored clip."""
    reference, rate = load_flac(reference_flac)
    if response_format == "pcm":  # raw, at the rate a preview is made at (it takes none)
        preview = wav_with_sizes(streaming_wav_header(DEFAULT_OUTPUT_RATE) + preview)
    spoken = decode_audio(preview, RATE).samples
    return voice_similarity((reference, rate), (spoken, RATE))


class PreviewScoring:
    def __init__(self, store: VoiceProfileStore, pool: WorkerPool) -> None:
        self.store = store
        self.pool = pool

    def scored(
        self, profile: VoiceProfile, model: str, stream: ByteStream, response_format: str
    ) -> ByteStream:
        """The same stream; after its last byte (before the response ends, so a client that
        has read it all finds the figure stored) the preview is scored and recorded. A
        preview cut short, or one that failed, is not scored."""

        async def chunks() -> AsyncIterator[bytes]:
            kept, whole = bytearray(), True
            async with aclosing(stream.chunks) as made:  # type: ignore[type-var]
                async for chunk in made:
                    if whole and len(kept) + len(chunk) <= MAX_SCORED_BYTES:
                        kept += chunk
                    else:
                        whole, kept = False, bytearray()
                    yield chunk
            if whole and kept:
                await self._record(profile, model, bytes(kept), response_format)

        return dataclasses.replace(stream, chunks=chunks())

    async def _record(
        self, profile: VoiceProfile, model: str, preview: bytes, response_format: str
    ) -> None:
        try:
            similarity = await self.pool.run(
                preview_similarity, profile.audio, preview, response_format
            )
        except Exception:  # the admin has the audio; a figure that cannot be made is logged
            logger.exception("the preview of voice %s could not be scored", profile.id)
            return
        await self.store.record_preview(profile.id, round(similarity, 4), model)
