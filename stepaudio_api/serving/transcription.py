"""Speech recognition and translation: validate, decode the upload, recognise, render."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import BinaryIO, Literal

from stepaudio_api.audio.decode import DecodedAudio, decode_audio
from stepaudio_api.engines.base import (
    Recognizer,
    Segment,
    TranscriptionOptions,
    TranscriptionStream,
)
from stepaudio_api.errors import InvalidRequest
from stepaudio_api.protocol.sse import sse_event
from stepaudio_api.protocol.transcription import (
    DurationUsage,
    TranscriptTextDelta,
    TranscriptTextDone,
)
from stepaudio_api.serving.byte_stream import ByteStream, sse_error_event
from stepaudio_api.serving.hearing import hear
from stepaudio_api.serving.metering import RequestMeter
from stepaudio_api.serving.models import ModelCatalog
from stepaudio_api.serving.transcript_formats import (
    CONTENT_TYPES,
    LANGUAGE_NAMES,
    RESPONSE_FORMATS,
    full_text,
    render_transcript,
)

_CODES_BY_NAME = {name: code for code, name in LANGUAGE_NAMES.items()}
WHISPER_SAMPLE_RATE = 16000


@dataclass(frozen=True, slots=True)
class TranscriptionJob:
    model: str
    task: Literal["transcribe", "translate"] = "transcribe"
    language: str | None = None
    prompt: str | None = None
    response_format: str = "json"
    temperature: float | None = None
    timestamp_granularities: tuple[str, ...] = ()
    stream: bool = False


@dataclass(frozen=True, slots=True)
class _Admission:
    model_id: str
    meter: RequestMeter | None

    async def admit(self, audio_seconds: float) -> None:
        if self.meter is not None:
            await self.meter.admit(self.model_id, audio_seconds=audio_seconds)
            self.meter.measured.audio_seconds_in = audio_seconds


class TranscriptionServing:
    def __init__(self, catalog: ModelCatalog) -> None:
        self.catalog = catalog

    def _check(self, job: TranscriptionJob) -> tuple[str, Recognizer, str | None]:
        """Everything that can be refused before the upload is decoded."""
        if job.response_format not in RESPONSE_FORMATS:
            raise InvalidRequest(
                f"response_format '{job.response_format}' is not supported; choose one of "
                + ", ".join(RESPONSE_FORMATS),
                param="response_format",
            )
        for granularity in job.timestamp_granularities:
            if granularity not in ("word", "segment"):
                raise InvalidRequest(
                    f"timestamp_granularities may hold 'word' and 'segment', not '{granularity}'",
                    param="timestamp_granularities",
                )
        if job.timestamp_granularities and job.response_format != "verbose_json":
            raise InvalidRequest(
                "timestamp_granularities needs response_format 'verbose_json'",
                param="timestamp_granularities",
            )
        if job.temperature is not None and not 0.0 <= job.temperature <= 1.0:
            raise InvalidRequest("temperature must be between 0 and 1", param="temperature")
        if job.stream and job.response_format not in ("json", "text"):
            raise InvalidRequest(
                "stream=true sends transcript.text events; response_format must be json or text",
                param="stream",
            )
        model = self.catalog.resolve(job.model, "transcription")
        engine = model.engine
        assert isinstance(engine, Recognizer)
        language = job.language.strip().lower() if job.language else None
        if language:
            language = _CODES_BY_NAME.get(language, language)
            if language not in engine.languages:
                raise InvalidRequest(
                    f"The model '{job.model}' cannot recognise language '{job.language}'; "
                    f"it can: {', '.join(engine.languages)}",
                    param="language",
                    code="unsupported_language",
                )
        return model.id, engine, language

    def create_transcription(
        self, audio: bytes | BinaryIO, job: TranscriptionJob, meter: RequestMeter | None = None
    ) -> ByteStream:
        model_id, engine, language = self._check(job)
        options = TranscriptionOptions(
            language=language,
            prompt=job.prompt,
            temperature=job.temperature,
            word_timestamps="word" in job.timestamp_granularities,
            task=job.task,
        )
        admission = _Admission(model_id, meter)
        if job.stream:
            events = self._events(engine, audio, options, admission)
            return ByteStream("text/event-stream", events, failure=sse_error_event)
        content_type = CONTENT_TYPES[job.response_format]
        document = self._document(engine, audio, options, job, admission)
        return ByteStream(content_type, document, whole=True)

    @asynccontextmanager
    async def _recognition(
        self,
        engine: Recognizer,
        audio: bytes | BinaryIO,
        options: TranscriptionOptions,
        admission: _Admission,
    ) -> AsyncIterator[tuple[DecodedAudio, TranscriptionStream]]:
        """Hold an engine place while the upload is decoded and its segments are recognised;
        the quota is charged once the audio's duration is known, before recognition."""
        async with engine.reserve():
            decoded = await engine.pool.run(decode_audio, audio, WHISPER_SAMPLE_RATE)
            await admission.admit(decoded.duration)
            yield decoded, await hear(engine, decoded.samples, options)

    async def _document(
        self,
        engine: Recognizer,
        audio: bytes | BinaryIO,
        options: TranscriptionOptions,
        job: TranscriptionJob,
        admission: _Admission,
    ) -> AsyncIterator[bytes]:
        async with self._recognition(engine, audio, options, admission) as (decoded, stream):
            segments = [segment async for segment in stream.segments]
        yield render_transcript(
            job.response_format,
            segments,
            task=job.task,
            language=stream.language,
            duration=decoded.duration,
            with_words=options.word_timestamps,
        )

    async def _events(
        self,
        engine: Recognizer,
        audio: bytes | BinaryIO,
        options: TranscriptionOptions,
        admission: _Admission,
    ) -> AsyncIterator[bytes]:
        done: list[Segment] = []
        async with self._recognition(engine, audio, options, admission) as (decoded, stream):
            async for segment in stream.segments:
                text = segment.text if done else segment.text.lstrip()
                done.append(segment)
                yield sse_event(TranscriptTextDelta(delta=text))
        usage = DurationUsage(seconds=round(decoded.duration, 3))
        yield sse_event(TranscriptTextDone(text=full_text(done), usage=usage))
