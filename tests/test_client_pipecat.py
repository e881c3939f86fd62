"""pipecat-ai's own OpenAI services against our server, with their default settings (models
`gpt-4o-mini-tts`, `gpt-transcribe` and `gpt-realtime-2.1`, which we alias) and only the base
URL changed, run in pipecat pipelines with no transport:

* OpenAITTSService speaks a sentence: 24 kHz pcm16 frames of the right length that our
  transcription endpoint hears back as the sentence;
* OpenAISTTService transcribes a real recording between VAD frames;
* OpenAIRealtimeLLMService on /v1/realtime (a stand-in upstream thinks): a text turn from an
  LLMContext, a spoken turn ended by our server's VAD (the user's words come back as a
  TranscriptionFrame), and a function call that pipecat runs and answers, then the spoken answer.

pipecat validates each realtime server event with pydantic and its receive loop dies, silently,
on one that does not validate or on an `error` event; the runs here wait for the frames they
need and, when those never come, fail naming the frames that did and what pipecat logged.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import av
import httpx
import numpy as np
from audio_checks import JFK, decode, word_error_rate
from chat_helpers import pcm_to_wav, transcribe
from chat_stand_in import ChatStandIn, Reply, ToolCall, word_pieces
from conftest import ServerProcess
from loguru import logger
from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.frames.frames import (
    EndFrame,
    ErrorFrame,
    Frame,
    InputAudioRawFrame,
    LLMContextAssistantTurnFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMTextFrame,
    ProposedUserStartedSpeakingFrame,
    ProposedUserStoppedSpeakingFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    TTSStoppedFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.llm_service import FunctionCallParams
from pipecat.services.openai.realtime import events as rt
from pipecat.services.openai.realtime.llm import OpenAIRealtimeLLMService
from pipecat.services.openai.stt import OpenAISTTService
from pipecat.services.openai.tts import OpenAITTSService
from pipecat.workers.runner import WorkerRunner

if TYPE_CHECKING:
    from loguru import Message

API_KEY = "sk-test"  # pipecat's OpenAI clients refuse to start without one; any key works here
RATE = 24000  # OpenAI's (and pipecat's) rate for TTS and realtime audio
SENTENCE = "The quick brown fox jumps over the lazy dog near the quiet river bank."
QUESTION = "Could you please tell me what the weather will be like tomorrow morning in the city?"
ANSWER = "It is sunny in Paris today. The temperature is mild and pleasant."
F = TypeVar("F", bound=Frame)


# -- running a processor in a pipeline until the frames a test needs have come -------------


@dataclass
class Run:
    down: list[Frame] = field(default_factory=list)
    """Frames that reached the end of the pipeline."""
    up: list[Frame] = field(default_factory=list)
    """Frames pushed upstream to its start: errors, and the realtime user's transcripts."""
    logged: list[str] = field(default_factory=list)
    """What pipecat logged at WARNING and above during the run."""

    def of(self, kind: type[F], up: bool = False) -> list[F]:
        """The frames of a kind that went downstream (or upstream)."""
        return [f for f in (self.up if up else self.down) if isinstance(f, kind)]

    def errors(self) -> list[str]:
        return [f.error for f in (*self.up, *self.down) if isinstance(f, ErrorFrame)]

    def text(self) -> str:
        return "".join(f.text for f in self.down if isinstance(f, LLMTextFrame))

    def audio(self) -> bytes:
        frames = self.of(TTSAudioRawFrame)
        assert all((f.sample_rate, f.num_channels) == (RATE, 1) for f in frames), frames[:3]
        return b"".join(f.audio for f in frames)

    def summary(self) -> str:
        def names(frames: list[Frame]) -> str:
            out: list[str] = []
            for frame in frames:
                name = type(frame).__name__
                if out and out[-1].startswith(name + " x"):
                    out[-1] = f"{name} x{int(out[-1].rsplit('x', 1)[1]) + 1}"
                elif out and out[-1] == name:
                    out[-1] = f"{name} x2"
                else:
                    out.append(name)
            return ", ".join(out)

        logged = "\n  ".join(self.logged[-15:])
        return f"down: {names(self.down)}\nup: {names(self.up)}\nlogged:\n  {logged}"


class _Tap(FrameProcessor):
    """Records the frames passing one way and says when one of them is what the test awaits."""

    def __init__(self, direction: FrameDirection, frames: list[Frame], seen: Callable[[], None]):
        super().__init__(enable_direct_mode=True)
        self._direction, self._frames, self._seen = direction, frames, seen

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction == self._direction:
            self._frames.append(frame)
            self._seen()
        await self.push_frame(frame, direction)


Step = Frame | float
"""A frame to queue, or seconds to wait before the next one."""


async def _run(
    processor: FrameProcessor,
    steps: Sequence[Step],
    until: Callable[[Run], bool],
    limit: float,
    params: PipelineParams | None,
) -> Run:
    run = Run()
    done = asyncio.Event()

    def seen() -> None:
        if until(run) or run.errors():
            done.set()

    def log(message: Message) -> None:
        level = message.record["level"].name
        run.logged.append(f"{level}: {message.record['message'][:600]}")
        if level in ("ERROR", "CRITICAL"):
            done.set()  # e.g. the receive loop died: nothing more will come

    sink = logger.add(log, level="WARNING")
    worker = PipelineWorker(
        Pipeline(
            [
                _Tap(FrameDirection.UPSTREAM, run.up, seen),
                processor,
                _Tap(FrameDirection.DOWNSTREAM, run.down, seen),
            ]
        ),
        params=params or PipelineParams(),
        cancel_on_idle_timeout=False,
        enable_rtvi=False,
    )
    started = asyncio.Event()

    @worker.event_handler("on_pipeline_started")
    async def _started(_worker: PipelineWorker, _frame: Frame) -> None:
        started.set()

    deadline = time.monotonic() + limit

    async def drive() -> None:
        try:
            await asyncio.wait_for(started.wait(), 15)
            for step in steps:
                if isinstance(step, Frame):
                    await worker.queue_frame(step)
                else:
                    await asyncio.sleep(step)
            await asyncio.wait_for(done.wait(), max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            pass
        finally:
            await worker.queue_frame(EndFrame())

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    try:
        await asyncio.wait_for(asyncio.gather(runner.run(), drive()), limit + 20)
    finally:
        logger.remove(sink)
    return run


def run_until(
    processor: FrameProcessor,
    steps: Sequence[Step],
    until: Callable[[Run], bool],
    timeout: float = 30.0,
    params: PipelineParams | None = None,
) -> Run:
    """Run ``processor`` in a pipeline, queue ``steps``, and end the pipeline once ``until`` holds
    for the frames gathered (or an ErrorFrame came, or ``timeout`` passed); fails unless it
    held and no ErrorFrame came."""
    run = asyncio.run(_run(processor, steps, until, timeout, params))
    assert until(run) and not run.errors(), f"{run.errors()}\n{run.summary()}"
    # e.g. a server event that did not validate: pipecat's receive loop stops with a log line
    failures = [line for line in run.logged if line.startswith(("ERROR", "CRITICAL"))]
    assert not failures, run.summary()
    return run


def responses_ended(count: int) -> Callable[[Run], bool]:
    return lambda run: len(run.of(LLMFullResponseEndFrame)) >= count


# -- audio ---------------------------------------------------------------------------------


def pcm16(path: Path, rate: int) -> bytes:
    """A recording decoded and resampled to mono pcm16 at ``rate``."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
    with av.open(str(path)) as container:
        frames = [out for f in container.decode(audio=0) for out in resampler.resample(f)]
    frames += resampler.resample(None)
    return b"".join(bytes(f.planes[0])[: f.samples * 2] for f in frames)


def audio_frames(pcm: bytes, rate: int, chunk_ms: int = 20) -> list[InputAudioRawFrame]:
    step = rate * chunk_ms // 1000 * 2
    return [InputAudioRawFrame(audio=pcm[i : i + step], sample_rate=rate, num_channels=1)
            for i in range(0, len(pcm), step)]  # fmt: skip


def our_speech(server: ServerProcess, text: str) -> bytes:
    """pcm16 24 kHz of ``text`` from our /v1/audio/speech."""
    response = httpx.post(
        f"{server.base_url}/v1/audio/speech",
        json={"model": "tts-1", "voice": "alloy", "input": text, "response_format": "pcm"},
        timeout=60,
    )
    response.raise_for_status()
    return response.content


def rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768
    return float(np.sqrt(np.mean(samples**2)))


def heard(server: ServerProcess, pcm: bytes) -> str:
    """What our transcription endpoint hears in 24 kHz pcm16."""
    return transcribe(server.client(), pcm_to_wav(pcm, RATE))


def realtime(server: ServerProcess, **settings: object) -> OpenAIRealtimeLLMService:
    """pipecat's realtime service on our /v1/realtime; its default model unless ``settings``."""
    base_url = server.base_url.replace("http://", "ws://") + "/v1/realtime"
    if not settings:
        return OpenAIRealtimeLLMService(api_key=API_KEY, base_url=base_url)
    return OpenAIRealtimeLLMService(
        api_key=API_KEY, base_url=base_url, settings=OpenAIRealtimeLLMService.Settings(**settings)
    )


# -- TTS and STT ---------------------------------------------------------------------------


def test_tts_service_speaks_a_sentence(server: ServerProcess) -> None:
    tts = OpenAITTSService(api_key=API_KEY, base_url=f"{server.base_url}/v1")
    run = run_until(tts, [TTSSpeakFrame(SENTENCE)], lambda r: bool(r.of(TTSStoppedFrame)))
    audio = run.audio()
    assert len(run.of(TTSAudioRawFrame)) >= 2, run.summary()  # streamed, in 0.5 s pieces
    duration = decode(audio, "pcm", RATE).duration
    # the same sentence from our endpoint directly: pipecat got all of it, at the rate it assumes
    direct = decode(our_speech(server, SENTENCE), "pcm", RATE).duration
    assert 2.5 < duration < 9.0 and abs(duration - direct) < 0.1 * direct, (duration, direct)
    assert rms(audio) > 0.02
    words = heard(server, audio)
    # Piper samples its durations and noise on every call, and tiny.en hears a synthesis of
    # these 13 words with up to three of them off ("jumped", a "Thank you." after the end)
    assert word_error_rate(SENTENCE, words) <= 0.3, words


def test_stt_service_transcribes_a_recording(server: ServerProcess, testdata: Path) -> None:
    rate = 16000  # the pipeline's input rate: what pipecat writes in the WAV it uploads
    pcm = pcm16(testdata / "en_jfk.flac", rate)
    assert 10.5 < len(pcm) / 2 / rate < 11.5
    stt = OpenAISTTService(api_key=API_KEY, base_url=f"{server.base_url}/v1")
    steps = [VADUserStartedSpeakingFrame(), *audio_frames(pcm, rate), VADUserStoppedSpeakingFrame()]
    run = run_until(stt, steps, lambda r: bool(r.of(TranscriptionFrame)),
                    params=PipelineParams(audio_in_sample_rate=rate))  # fmt: skip
    [frame] = run.of(TranscriptionFrame)
    assert word_error_rate(JFK, frame.text) <= 0.15, frame.text


# -- realtime ------------------------------------------------------------------------------


def test_realtime_text_turn(chat_server: ServerProcess, upstream: ChatStandIn) -> None:
    upstream.plan(Reply(content=word_pieces(ANSWER)))
    # the instructions go in session.update, the context's message in conversation.item.create
    llm = realtime(chat_server, system_instruction="Be brief.")
    question = "How is the weather in Paris?"
    context = LLMContext(messages=[{"role": "user", "content": question}])
    run = run_until(llm, [LLMContextFrame(context)], responses_ended(1))
    # audio is the default output: the transcript of what was said comes as text frames
    assert run.text() == ANSWER
    audio = run.audio()
    assert 2.0 < decode(audio, "pcm", RATE).duration < 9.0 and rms(audio) > 0.02
    assert word_error_rate(ANSWER, heard(chat_server, audio)) <= 0.3  # as Piper varies
    [request] = upstream.requests
    assert request.body["messages"] == [{"role": "system", "content": "Be brief."},
                                        {"role": "user", "content": question}]  # fmt: skip


def test_realtime_spoken_turn_with_server_vad(
    chat_server: ServerProcess, upstream: ChatStandIn
) -> None:
    speech = our_speech(chat_server, QUESTION)
    upstream.plan(*[Reply(content=word_pieces(ANSWER))] * 2)
    # the user's words come back only when the session asks for them (as with OpenAI);
    # turn detection is left at the server's default, server VAD
    listening = rt.AudioInput(transcription=rt.InputAudioTranscription())
    llm = realtime(
        chat_server,
        session_properties=rt.SessionProperties(audio=rt.AudioConfiguration(input=listening)),
    )
    silence = b"\0" * (RATE * 2 // 2)
    frames = audio_frames(silence + speech + silence * 3, RATE)
    # a microphone's pace: 20 ms of audio every 20 ms
    steps: list[Step] = [item for frame in frames for item in (frame, 0.02)]

    def answered(run: Run) -> bool:
        return bool(run.of(TranscriptionFrame, up=True)) and bool(run.of(LLMFullResponseEndFrame))

    run = run_until(llm, steps, answered, timeout=45)
    # the server's speech_started / speech_stopped, as pipecat passes them on
    assert run.of(ProposedUserStartedSpeakingFrame) and run.of(ProposedUserStoppedSpeakingFrame)
    [transcript] = run.of(TranscriptionFrame, up=True)
    assert word_error_rate(QUESTION, transcript.text) <= 0.3, transcript.text
    assert run.text() == ANSWER
    assert decode(run.audio(), "pcm", RATE).duration > 2.0
    # a pause inside the question may have had the server prepare an answer, thrown away
    assert 1 <= len(upstream.requests) <= 2
    said = upstream.requests[-1].body["messages"][-1]
    assert said["role"] == "user" and word_error_rate(QUESTION, said["content"]) <= 0.3


STOCK_ANSWER = "ACME trades at forty two dollars."


def test_realtime_function_call_turn(chat_server: ServerProcess, upstream: ChatStandIn) -> None:
    upstream.plan(
        Reply(tool_calls=[ToolCall("call_7", "get_stock_price", ['{"symbol":', ' "ACME"}'])]),
        Reply(content=word_pieces(STOCK_ANSWER)),
    )
    calls: list[dict[str, object]] = []

    async def get_stock_price(params: FunctionCallParams) -> None:
        calls.append(dict(params.arguments))
        await params.result_callback({"price": 42})

    llm = realtime(chat_server)
    llm.register_function("get_stock_price", get_stock_price)
    tools = ToolsSchema(standard_tools=[FunctionSchema(
        name="get_stock_price", description="A stock's price in dollars",
        properties={"symbol": {"type": "string"}}, required=["symbol"])])  # fmt: skip
    context = LLMContext(messages=[{"role": "user", "content": "What is ACME trading at?"}],
                         tools=tools)  # fmt: skip
    # the assistant aggregator takes the function's result into the context and sends it back
    # up to the service, which is what has pipecat ask for the answer
    user, assistant = LLMContextAggregatorPair(context)
    pipeline = Pipeline([user, llm, assistant])

    # the aggregators take in the text frames; what the assistant said comes out as its turn
    def answered(run: Run) -> bool:
        return bool(run.of(LLMContextAssistantTurnFrame))

    run = run_until(pipeline, [LLMContextFrame(context)], answered)
    assert calls == [{"symbol": "ACME"}]
    [turn] = run.of(LLMContextAssistantTurnFrame)
    assert turn.text == STOCK_ANSWER
    assert decode(run.audio(), "pcm", RATE).duration > 1.0
    first, second = upstream.requests
    assert "get_stock_price" in [t["function"]["name"] for t in first.body["tools"]]
    call, result = second.body["messages"][-2:]
    assert call["tool_calls"][0]["id"] == "call_7"
    assert json.loads(call["tool_calls"][0]["function"]["arguments"]) == {"symbol": "ACME"}
    assert result["role"] == "tool" and result["tool_call_id"] == "call_7"
    assert json.loads(result["content"]) == {"price": 42}
    # pipecat's context: the question, the call, its result, the answer
    roles = [m.get("role") for m in context.get_messages()]
    assert roles == ["user", "assistant", "tool", "assistant"], context.get_messages()
    assert context.get_messages()[-1].get("content") == STOCK_ANSWER
