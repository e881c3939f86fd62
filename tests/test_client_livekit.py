"""Our server through livekit-plugins-openai with its defaults and no LiveKit server: openai.TTS
(gpt-4o-mini-tts, voice ash, mp3) synthesizes a sentence our transcription endpoint hears back,
openai.STT (gpt-4o-mini-transcribe over HTTP) recognizes a recording, and
openai.realtime.RealtimeModel (gpt-realtime, voice marin, semantic_vad) answers a text chat
context with text and audio, and calls a function tool whose output it then answers; the stand-in
upstream is the chat model."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import av
import pytest
from audio_checks import JFK, decode, word_error_rate
from chat_helpers import pcm_to_wav, transcribe
from chat_stand_in import ChatStandIn, Reply, ToolCall, word_pieces
from conftest import ServerProcess
from livekit import rtc
from livekit.agents import APIConnectOptions, llm
from livekit.plugins import openai

SENTENCE = "The quick brown fox jumps over the lazy dog near the river bank."
ANSWER = "Hello there, I am your helpful assistant today."
TOOL_ANSWER = "ACME trades at forty two dollars."
NO_RETRY = APIConnectOptions(max_retry=0)
PRICES: list[str] = []


@pytest.fixture(autouse=True)
def openai_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The plugin reads OPENAI_* settings; OPENAI_API_VERSION would switch it to Azure."""
    for name in ("OPENAI_API_VERSION", "OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)


@llm.function_tool
async def get_stock_price(symbol: str) -> str:
    """Get the current price of a stock.

    Args:
        symbol: the stock's ticker symbol
    """
    PRICES.append(symbol)
    return json.dumps({"symbol": symbol, "price": 42})


def base_url(server: ServerProcess) -> str:
    return f"{server.base_url}/v1"


def frames_pcm(frames: list[rtc.AudioFrame]) -> tuple[bytes, int]:
    """The frames' audio as one pcm16 mono buffer, and its sample rate."""
    assert frames, "no audio frames"
    rates = {(f.sample_rate, f.num_channels) for f in frames}
    assert len(rates) == 1, rates
    [(rate, channels)] = rates
    assert channels == 1
    return b"".join(bytes(f.data) for f in frames), rate


def test_tts_synthesizes_a_sentence(chat_server: ServerProcess) -> None:
    async def main() -> list[rtc.AudioFrame]:
        tts = openai.TTS(base_url=base_url(chat_server), api_key="sk-test")
        try:
            stream = tts.synthesize(SENTENCE, conn_options=NO_RETRY)
            return [event.frame async for event in stream]
        finally:
            await tts.aclose()

    pcm, rate = frames_pcm(asyncio.run(main()))
    assert rate == 24000
    duration = decode(pcm, "pcm", rate).duration
    assert 2.0 < duration < 10.0, duration
    heard = transcribe(chat_server.client(), pcm_to_wav(pcm, rate))
    # a Piper synthesis heard by tiny.en: Piper samples its durations and noise on each call
    assert word_error_rate(SENTENCE, heard) <= 0.3, heard


def recording_frames(path: Path, rate: int = 48000) -> list[rtc.AudioFrame]:
    """A recording as a room's track delivers it: 10 ms frames of pcm16 mono at 48 kHz."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
    with av.open(str(path)) as container:
        decoded = [resampler.resample(f) for f in container.decode(audio=0)]
    pcm = b"".join(bytes(out.planes[0])[: out.samples * 2] for outs in decoded for out in outs)
    pcm += b"".join(bytes(out.planes[0])[: out.samples * 2] for out in resampler.resample(None))
    step = rate // 100 * 2
    return [
        rtc.AudioFrame(pcm[i : i + step], rate, 1, len(pcm[i : i + step]) // 2)
        for i in range(0, len(pcm), step)
    ]


def test_stt_recognizes_a_recording(chat_server: ServerProcess, testdata: Path) -> None:
    frames = recording_frames(testdata / "en_jfk.flac")
    assert abs(sum(f.duration for f in frames) - 11.0) < 0.1

    async def main() -> Any:
        stt = openai.STT(base_url=base_url(chat_server), api_key="sk-test")
        try:
            return await stt.recognize(frames, conn_options=NO_RETRY)
        finally:
            await stt.aclose()

    event = asyncio.run(main())
    assert event.type.value == "final_transcript"
    text = event.alternatives[0].text
    assert word_error_rate(JFK, text) <= 0.15, text


class Generation:
    """What one generate_reply() brought: the messages' text and audio, and the calls."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.audio: list[list[rtc.AudioFrame]] = []
        self.modalities: list[list[str]] = []
        self.calls: list[llm.FunctionCall] = []

    @classmethod
    async def of(cls, event: llm.GenerationCreatedEvent) -> Generation:
        generation = cls()

        async def messages() -> None:
            async for message in event.message_stream:
                text = "".join([piece async for piece in message.text_stream])
                frames = [frame async for frame in message.audio_stream]
                generation.texts.append(text)
                generation.audio.append(frames)
                generation.modalities.append(list(await message.modalities))

        async def calls() -> None:
            async for call in event.function_stream:
                generation.calls.append(call)

        await asyncio.wait_for(asyncio.gather(messages(), calls()), 30)
        return generation


def realtime_model(server: ServerProcess) -> openai.realtime.RealtimeModel:
    return openai.realtime.RealtimeModel(
        base_url=base_url(server), api_key="sk-test", conn_options=NO_RETRY
    )


def test_realtime_answers_a_text_chat_context(
    chat_server: ServerProcess, upstream: ChatStandIn
) -> None:
    upstream.plan(Reply(content=word_pieces(ANSWER)))
    errors: list[Any] = []

    async def main() -> tuple[Generation, list[llm.ChatItem]]:
        model = realtime_model(chat_server)
        session = model.session()
        session.on("error", errors.append)
        try:
            await session.update_instructions("Be brief and friendly.")
            chat_ctx = llm.ChatContext.empty()
            chat_ctx.add_message(role="user", content="Hello, who are you?")
            await session.update_chat_ctx(chat_ctx)
            created = await asyncio.wait_for(session.generate_reply(), 30)
            assert created.user_initiated
            generation = await Generation.of(created)
            return generation, list(session.chat_ctx.items)
        finally:
            await session.aclose()
            await model.aclose()

    generation, items = asyncio.run(main())
    assert errors == []
    assert generation.texts == [ANSWER] and generation.calls == []
    assert sorted(generation.modalities[0]) == ["audio", "text"]
    pcm, rate = frames_pcm(generation.audio[0])
    assert rate == 24000
    assert decode(pcm, "pcm", rate).duration > 0.3
    heard = transcribe(chat_server.client(), pcm_to_wav(pcm, rate))
    assert word_error_rate(ANSWER, heard) <= 0.3, heard
    messages = upstream.requests[0].body["messages"]
    assert messages[0] == {"role": "system", "content": "Be brief and friendly."}
    assert messages[-1] == {"role": "user", "content": "Hello, who are you?"}
    # the client's mirror of the conversation: the user's message, then the answer
    said = [(i.role, i.text_content) for i in items if i.type == "message"]
    assert said == [("user", "Hello, who are you?"), ("assistant", ANSWER)]


def test_realtime_calls_a_function_tool(chat_server: ServerProcess, upstream: ChatStandIn) -> None:
    PRICES.clear()
    upstream.plan(
        Reply(tool_calls=[ToolCall("call_acme", "get_stock_price", ['{"symbol":', ' "ACME"}'])]),
        Reply(content=word_pieces(TOOL_ANSWER)),
    )
    errors: list[Any] = []

    async def main() -> tuple[Generation, Generation]:
        model = realtime_model(chat_server)
        session = model.session()
        session.on("error", errors.append)
        try:
            await session.update_tools([get_stock_price])
            chat_ctx = llm.ChatContext.empty()
            chat_ctx.add_message(role="user", content="What is the price of ACME?")
            await session.update_chat_ctx(chat_ctx)
            called = await Generation.of(await asyncio.wait_for(session.generate_reply(), 30))
            # what AgentSession does with a call: run the tool, add its output, reply again
            [call] = called.calls
            output = await get_stock_price(**json.loads(call.arguments))
            chat_ctx = session.chat_ctx.copy()
            chat_ctx.items.append(
                llm.FunctionCallOutput(
                    call_id=call.call_id, name=call.name, output=output, is_error=False
                )
            )
            await session.update_chat_ctx(chat_ctx)
            answered = await Generation.of(await asyncio.wait_for(session.generate_reply(), 30))
            return called, answered
        finally:
            await session.aclose()
            await model.aclose()

    called, answered = asyncio.run(main())
    assert errors == []
    [call] = called.calls
    assert (call.name, call.call_id) == ("get_stock_price", "call_acme")
    assert json.loads(call.arguments) == {"symbol": "ACME"}
    assert PRICES == ["ACME"]
    assert answered.calls == [] and answered.texts == [TOOL_ANSWER]
    pcm, rate = frames_pcm(answered.audio[0])
    assert decode(pcm, "pcm", rate).duration > 0.3
    assert "get_stock_price" in [t["function"]["name"] for t in upstream.requests[0].body["tools"]]
    sent = upstream.requests[1].body["messages"]
    assert sent[-2]["tool_calls"][0]["id"] == "call_acme"
    assert sent[-1]["role"] == "tool" and sent[-1]["tool_call_id"] == "call_acme"
    assert json.loads(sent[-1]["content"]) == {"symbol": "ACME", "price": 42}
