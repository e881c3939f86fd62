"""/v1/realtime driven by openai-agents' RealtimeRunner (its GA websocket model) with its defaults:
the default model name (gpt-realtime-2.1, one of our aliases), the session config it builds from a
RealtimeAgent with one function tool, and its default semantic_vad turn detection. A text turn,
a spoken turn our VAD ends, and a function-call turn the agent's tool answers; the stand-in
upstream is the chat model."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from agents import function_tool
from agents.realtime import RealtimeAgent, RealtimeRunner, RealtimeSession
from agents.realtime.openai_realtime import DEFAULT_REALTIME_MODEL
from audio_checks import decode, word_error_rate
from chat_helpers import pcm_to_wav, transcribe
from chat_stand_in import ChatStandIn, Reply, ToolCall, word_pieces
from conftest import ServerProcess
from realtime_helpers import RATE, silence, speech_pcm

INSTRUCTIONS = "You are a helpful voice assistant. Use get_stock_price for stock prices."
ANSWER = "Hello there, I am your helpful assistant today."
QUESTION = "Could you please tell me what the weather will be like tomorrow morning?"
SPOKEN_ANSWER = "Tomorrow morning will be sunny and mild."
TOOL_ANSWER = "ACME trades at forty two dollars."
PRICES: list[str] = []
WAIT_SECONDS = 30.0


@function_tool
def get_stock_price(symbol: str) -> str:
    """Get the current price of a stock."""
    PRICES.append(symbol)
    return json.dumps({"symbol": symbol, "price": 42})


class Recorder:
    """Every session event, gathered by a background task, waited on by predicate."""

    def __init__(self, session: RealtimeSession) -> None:
        self.session = session
        self.events: list[Any] = []
        self.ended: BaseException | None = None
        self._changed = asyncio.Condition()
        self._task = asyncio.create_task(self._consume())

    async def _consume(self) -> None:
        try:
            async for event in self.session:
                async with self._changed:
                    self.events.append(event)
                    self._changed.notify_all()
        except Exception as error:  # the session re-raises what ended it
            self.ended = error
        async with self._changed:
            self._changed.notify_all()

    def count(self, kind: str) -> int:
        return sum(1 for e in self.events if e.type == kind)

    async def wait(self, ready: Callable[[], bool], what: str) -> None:
        async def settled() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: ready() or self._task.done())

        try:
            await asyncio.wait_for(settled(), WAIT_SECONDS)
        except TimeoutError:
            raise AssertionError(f"no {what} in {WAIT_SECONDS} s: {self.kinds()}") from None
        assert ready(), f"session ended ({self.ended!r}) before {what}: {self.kinds()}"

    async def wait_for(self, kind: str, n: int = 1) -> None:
        await self.wait(lambda: self.count(kind) >= n, f"{n} x {kind}")

    def kinds(self) -> list[str]:
        return [e.type for e in self.events]

    def model_events(self, kind: str) -> list[Any]:
        """The model's own events (raw_model_event's data) of one kind."""
        raw = [e.data for e in self.events if e.type == "raw_model_event"]
        return [d for d in raw if d.type == kind]

    def server_events(self, kind: str) -> list[dict[str, Any]]:
        """The server's events as it sent them (JSON objects)."""
        return [d.data for d in self.model_events("raw_server_event") if d.data["type"] == kind]

    def transcript(self, response_id: str) -> str:
        deltas = self.model_events("transcript_delta")
        return "".join(d.delta for d in deltas if d.response_id == response_id)

    def audio(self, response_id: str) -> bytes:
        chunks = [e.audio for e in self.events if e.type == "audio"]
        return b"".join(c.data for c in chunks if c.response_id == response_id)

    def response_ids(self) -> list[str]:
        return [e["response"]["id"] for e in self.server_events("response.done")]

    def errors(self) -> list[Any]:
        return [e.error for e in self.events if e.type == "error"]

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@contextlib.asynccontextmanager
async def agent_session(server: ServerProcess) -> AsyncIterator[Recorder]:
    agent = RealtimeAgent(name="Assistant", instructions=INSTRUCTIONS, tools=[get_stock_price])
    url = server.base_url.replace("http://", "ws://") + "/v1/realtime"
    config = {"url": f"{url}?model={DEFAULT_REALTIME_MODEL}", "api_key": "sk-test"}
    async with await RealtimeRunner(agent).run(model_config=config) as session:
        recorder = Recorder(session)
        try:
            yield recorder
        finally:
            await recorder.close()


def spoken_text(item: Any) -> str:
    parts = [getattr(p, "transcript", None) or getattr(p, "text", None) for p in item.content]
    return "".join(p or "" for p in parts)


def transcripts(recorder: Recorder, role: str) -> list[str]:
    """The messages of ``role`` in the session's history, as the application sees it."""
    histories = [e.history for e in recorder.events if e.type == "history_updated"]
    history = histories[-1] if histories else []
    return [spoken_text(i) for i in history if i.type == "message" and i.role == role]


def test_a_text_turn(chat_server: ServerProcess, upstream: ChatStandIn) -> None:
    upstream.plan(Reply(content=word_pieces(ANSWER)))

    async def main() -> Recorder:
        async with agent_session(chat_server) as recorder:
            await recorder.session.send_message("Hello, who are you?")
            await recorder.wait_for("agent_end")
            await recorder.wait_for("audio_end")
            return recorder

    recorder = asyncio.run(main())
    assert recorder.errors() == []
    # the session took the agent's model name (an alias of ours), instructions and tool
    assert recorder.server_events("session.created")[0]["session"]["model"] == "gpt-realtime-2.1"
    updated = recorder.server_events("session.updated")[-1]["session"]
    assert updated["instructions"] == INSTRUCTIONS
    assert [t["name"] for t in updated["tools"]] == ["get_stock_price"]
    assert recorder.count("agent_start") == 1
    [response_id] = recorder.response_ids()
    assert recorder.transcript(response_id) == ANSWER
    assert transcripts(recorder, "assistant")[-1] == ANSWER
    audio = recorder.audio(response_id)
    assert decode(audio, "pcm", RATE).duration > 0.3
    heard = transcribe(chat_server.client(), pcm_to_wav(audio))
    assert word_error_rate(ANSWER, heard) <= 0.3, heard
    [done] = recorder.server_events("response.done")
    assert done["response"]["status"] == "completed"
    messages = upstream.requests[0].body["messages"]
    assert messages[0] == {"role": "system", "content": INSTRUCTIONS}
    assert messages[-1] == {"role": "user", "content": "Hello, who are you?"}
    tools = upstream.requests[0].body["tools"]
    assert "get_stock_price" in [t["function"]["name"] for t in tools]


def test_a_spoken_turn_ended_by_our_vad(chat_server: ServerProcess, upstream: ChatStandIn) -> None:
    pcm = speech_pcm(chat_server, QUESTION, tail_ms=0) + silence(1500)
    # two: a pause inside the question may start a speculative response, thrown away when
    # the user goes on (it takes a planned reply with it)
    upstream.plan(*[Reply(content=word_pieces(SPOKEN_ANSWER))] * 2)

    async def main() -> Recorder:
        async with agent_session(chat_server) as recorder:
            step = RATE * 2 // 10  # 100 ms pieces, as an application streams a microphone
            for offset in range(0, len(pcm), step):
                await recorder.session.send_audio(pcm[offset : offset + step])
            await recorder.wait_for("agent_end")
            # the transcript reaches the history after the raw event that brings it
            await recorder.wait(lambda: any(transcripts(recorder, "user")), "the user's words")
            return recorder

    recorder = asyncio.run(main())
    assert recorder.errors() == []
    [heard] = recorder.model_events("input_audio_transcription_completed")
    assert word_error_rate(QUESTION, heard.transcript) <= 0.3, heard.transcript
    assert transcripts(recorder, "user") == [heard.transcript]
    assert transcripts(recorder, "assistant") == [SPOKEN_ANSWER]
    [response_id] = recorder.response_ids()
    assert recorder.transcript(response_id) == SPOKEN_ANSWER
    assert decode(recorder.audio(response_id), "pcm", RATE).duration > 0.3
    assert recorder.server_events("input_audio_buffer.speech_stopped")
    said = upstream.requests[-1].body["messages"][-1]  # the request that made the answer
    assert said["role"] == "user" and word_error_rate(QUESTION, said["content"]) <= 0.3


def test_a_function_call_turn(chat_server: ServerProcess, upstream: ChatStandIn) -> None:
    PRICES.clear()
    upstream.plan(
        Reply(tool_calls=[ToolCall("call_acme", "get_stock_price", ['{"symbol":', ' "ACME"}'])]),
        Reply(content=word_pieces(TOOL_ANSWER)),
    )

    async def main() -> Recorder:
        async with agent_session(chat_server) as recorder:
            await recorder.session.send_message("What is the price of ACME?")
            await recorder.wait_for("tool_end")
            await recorder.wait_for("agent_end", 2)  # the call's response, then the answer's
            return recorder

    recorder = asyncio.run(main())
    assert recorder.errors() == []
    [start] = [e for e in recorder.events if e.type == "tool_start"]
    [end] = [e for e in recorder.events if e.type == "tool_end"]
    assert start.tool.name == end.tool.name == "get_stock_price"
    assert json.loads(start.arguments) == {"symbol": "ACME"}
    assert json.loads(end.output) == {"symbol": "ACME", "price": 42}
    assert PRICES == ["ACME"]
    kinds = recorder.kinds()
    assert kinds.index("tool_start") < kinds.index("tool_end")
    call_response, answer_response = recorder.response_ids()
    assert recorder.transcript(call_response) == ""
    assert recorder.transcript(answer_response) == TOOL_ANSWER
    assert transcripts(recorder, "assistant")[-1] == TOOL_ANSWER
    assert decode(recorder.audio(answer_response), "pcm", RATE).duration > 0.3
    sent = upstream.requests[1].body["messages"]
    assert sent[-2]["tool_calls"][0]["id"] == "call_acme"
    assert sent[-1]["role"] == "tool" and sent[-1]["tool_call_id"] == "call_acme"
    assert json.loads(sent[-1]["content"]) == {"symbol": "ACME", "price": 42}
