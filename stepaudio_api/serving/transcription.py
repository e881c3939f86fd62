"""Speech recognition and translation: validate, decode the upload, recognise, render."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import BinaryIO, Literal

from stepaudio_api.audio.decode import decode_blocks, measure_audio
from stepaudio_api.engines.base import Recognizer, Segment, TranscriptionOptions
from stepaudio_api.errors import InvalidRequest
from stepaudio_api.protocol.sse import sse_event
from stepaudio_api.protocol.transcription import (
    DurationUsage,
    TranscriptTextDelta,
    TranscriptTextDone,
)
from stepaudio_api.serving.audio_pieces import WHOLE, PieceRule, cut_into_pieces
from stepaudio_api.serving.byte_stream import ByteStream, sse_error_event
from stepaudio_api.serving.hearing import HeardPieces
from stepaudio_api.serving.known_speakers import check_known_speakers, known_speaker_book
from stepaudio_api.serving.metering import RequestMeter
from stepaudio_api.serving.models import ModelCatalog
from stepaudio_api.serving.transcript_formats import (
    CONTENT_TYPES,
    LANGUAGE_NAMES,
    RESPONSE_FORMATS,
    diarized_segment,
    full_text,
    logprobs_of,
    render_transcript,
    segment_id,
)
from stepaudio_api.speakers.book import SpeakerBook

_CODES_BY_NAME = {name: code for code, name in LANGUAGE_NAMES.items()}
WHISPER_SAMPLE_RATE = 16000
MIN_AUDIO_SECONDS = 0.1
DIARIZE_WHOLE_MAX_SECONDS = 30.0
"""A diarizing model is given longer audio only with a chunking_strategy, as OpenAI's."""


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
    include: tuple[str, ...] = ()
    chunking: PieceRule = WHOLE
    known_speaker_names: tuple[str, ...] = ()
    known_speaker_references: tuple[str, ...] = ()
    chunking_given: bool = False
    """The form named a chunking_strategy ("auto" included)."""


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
        if job.stream and job.response_format not in ("json", "text", "diarized_json"):
            raise InvalidRequest(
                "stream=true sends transcript.text events; response_format must be json, text "
                "or diarized_json",
                param="stream",
            )
        for item in job.include:
            if item != "logprobs":
                raise InvalidRequest(f"include may hold 'logprobs', not '{item}'",
                                     param="include")  # fmt: skip
        if job.include and job.response_format != "json":
            raise InvalidRequest("include[]=logprobs works only with response_format 'json'",
                                 param="include")  # fmt: skip
        model = self.catalog.resolve(job.model, "transcription")
        engine = model.engine
        assert isinstance(engine, Recognizer)
        if job.include and not engine.gives_logprobs:
            raise InvalidRequest(
                f"The model '{job.model}' gives no logprobs; models that do: "
                + (", ".join(self._names(lambda e: e.gives_logprobs)) or "none here"),
                param="include",
            )
        speakers = {"known_speaker_names": job.known_speaker_names,
                    "known_speaker_references": job.known_speaker_references}  # fmt: skip
        for field, given in speakers.items():
            if given and not engine.diarizes:
                raise InvalidRequest(
                    f"{field}[] needs a model that tells speakers apart (diarization), and "
                    f"'{job.model}' does not; models that do: "
                    + (", ".join(self._names(lambda e: e.diarizes)) or "none here yet"),
                    param=field,
                )
        if job.response_format == "diarized_json" and not engine.diarizes:
            raise InvalidRequest(
                f"response_format 'diarized_json' needs a model that tells speakers apart, and "
                f"'{job.model}' does not; models that do: "
                + (", ".join(self._names(lambda e: e.diarizes)) or "none here"),
                param="response_format",
            )
        if job.known_speaker_names or job.known_speaker_references:
            check_known_speakers(job.known_speaker_names, job.known_speaker_references)
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

    def _names(self, can: Callable[[Recognizer], bool]) -> list[str]:
        """The transcription models (ids: their aliases too) whose engine ``can``."""
        return [m.id for m in self.catalog.models
                if isinstance(m.engine, Recognizer) and can(m.engine)]  # fmt: skip

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
            logprobs="logprobs" in job.include,
        )
        admission = _Admission(model_id, meter)
        if job.stream:
            events = self._events(engine, audio, options, job, admission)
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
        job: TranscriptionJob,
        admission: _Admission,
    ) -> AsyncIterator[tuple[float, HeardPieces]]:
        """Hold an engine place while the upload is decoded and recognised. The whole file is
        decoded once first, keeping nothing, so that bad audio is refused and the quota
        charged by the exact duration before recognition; then again, a piece at a time."""
        async with engine.reserve():
            duration = await engine.pool.run(measure_audio, audio)
            if duration < MIN_AUDIO_SECONDS:
                raise InvalidRequest(
                    f"Audio file is too short ({duration:.3f} s). Minimum audio length is "
                    f"{MIN_AUDIO_SECONDS} seconds.",
                    param="file",
                    code="audio_too_short",
                )
            if engine.diarizes:
                options = replace(options, speakers=await self._speakers(engine, job, duration))
            await admission.admit(duration)
            blocks = decode_blocks(audio, WHISPER_SAMPLE_RATE)
            pieces = cut_into_pieces(blocks, job.chunking, duration)
            yield duration, HeardPieces(engine, engine.pool.iterate(pieces), options)

    async def _speakers(self, engine: Recognizer, job: TranscriptionJob,
                        duration: float) -> SpeakerBook:  # fmt: skip
        if duration > DIARIZE_WHOLE_MAX_SECONDS and not job.chunking_given:
            raise InvalidRequest(
                f"chunking_strategy is required for diarization when the audio is longer than "
                f"{DIARIZE_WHOLE_MAX_SECONDS:g} seconds (this is {duration:.1f} s): give "
                "'auto' or a server_vad object",
                param="chunking_strategy",
            )
        if not job.known_speaker_names:
            return SpeakerBook()
        embed = getattr(engine, "embed", None)
        return await engine.pool.run(known_speaker_book, embed, job.known_speaker_names,
                                     job.known_speaker_references)  # fmt: skip

    async def _document(
        self,
        engine: Recognizer,
        audio: bytes | BinaryIO,
        options: TranscriptionOptions,
        job: TranscriptionJob,
        admission: _Admission,
    ) -> AsyncIterator[bytes]:
        recognition = self._recognition(engine, audio, options, job, admission)
        async with recognition as (duration, heard):
            segments = [segment async for segment in heard.segments()]
        yield render_transcript(
            job.response_format,
            segments,
            task=job.task,
            language=heard.language or "en",
            duration=duration,
            with_words=options.word_timestamps,
            with_logprobs=options.logprobs,
        )

    async def _events(
        self,
        engine: Recognizer,
        audio: bytes | BinaryIO,
        options: TranscriptionOptions,
        job: TranscriptionJob,
        admission: _Admission,
    ) -> AsyncIterator[bytes]:
        done: list[Segment] = []
        diarized = job.response_format == "diarized_json"
        recognition = self._recognition(engine, audio, options, job, admission)
        async with recognition as (duration, heard):
            async for segment in heard.segments():
                text = segment.text if done else segment.text.lstrip()
                done.append(segment)
                logprobs = logprobs_of([segment]) if options.logprobs else None
                delta_of = segment_id(segment) if diarized else None
                yield sse_event(TranscriptTextDelta(delta=text, logprobs=logprobs,
                                                    segment_id=delta_of))  # fmt: skip
                if diarized:
                    yield sse_event(diarized_segment(segment))
        usage = DurationUsage(seconds=round(duration, 3))
        logprobs = logprobs_of(done) if options.logprobs else None
        yield sse_event(TranscriptTextDone(text=full_text(done), logprobs=logprobs, usage=usage))
