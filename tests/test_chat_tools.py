"""Tools in chat: the client's own functions come back as tool_calls; plugin tools are run by
the server (with a timeout and, in spoken replies, an acknowledgement) until the model answers."""

from __future__ import annotations

import base64
import json

import httpx
import openai
from audio_checks import decode, word_error_rate
from chat_helpers import pcm_to_wav, transcribe
from chat_stand_in import ChatStandIn, Reply, ToolCall
from conftest import ServerProcess

from stepaudio_tools.testing import OpenMeteoStandIn

STOCK_TOOL = {
    "type": "function",
    "function": {
        "name": "get_stock_price",
        "description": "The latest price of a stock",
        "parameters": {
            "type": "object",
            "properties": {"symbol": {"type": "string"}},
            "required": ["symbol"],
        },
    },
}


def tool_names(body: dict) -> set[str]:  # type: ignore[type-arg]
    return {t["function"]["name"] for t in body.get("tools", [])}


def spoken_stream(stream: openai.Stream) -> tuple[str, bytes, list[str]]:  # type: ignore[type-arg]
    """The transcript, the pcm16 audio and the transcript pieces of a streamed spoken reply."""
    pieces, pcm = [], []
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.audio is not None:
            audio = chunk.choices[0].delta.audio
            if audio.transcript:
                pieces.append(audio.transcript)
            if audio.data:
                pcm.append(base64.b64decode(audio.data))
    return "".join(pieces), b"".join(pcm), pieces


def test_client_tools_come_back_as_tool_calls(
    chat_server: ServerProcess, upstream: ChatStandIn
) -> None:
    client = chat_server.client()
    call = ToolCall("call_stock_1", "get_stock_price", ['{"sym', 'bol": "ACME"}'])
    upstream.plan(Reply(tool_calls=[call]), Reply(content=["ACME trades at 42 dollars."]))
    messages = [{"role": "user", "content": "What does ACME trade at?"}]
    reply = client.chat.completions.create(
        model="step-audio-chat",
        messages=messages,
        tools=[STOCK_TOOL],  # type: ignore[list-item]
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None and len(choice.message.tool_calls) == 1
    called = choice.message.tool_calls[0]
    assert called.id == "call_stock_1" and called.function.name == "get_stock_price"
    assert json.loads(called.function.arguments) == {"symbol": "ACME"}
    # the model was offered the client's tool and the server's plugin tools
    assert {"get_stock_price", "get_weather", "get_time"} <= tool_names(upstream.requests[0].body)
    # the client runs it and sends the result back: it reaches the upstream as sent
    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": "call_stock_1", "content": '{"price": 42}'},
    ]
    answer = client.chat.completions.create(
        model="step-audio-chat",
        messages=messages,
        tools=[STOCK_TOOL],  # type: ignore[arg-type]
    )
    assert answer.choices[0].message.content == "ACME trades at 42 dollars."
    sent = upstream.requests[1].body["messages"]
    assert sent[1]["tool_calls"][0]["function"]["name"] == "get_stock_price"
    assert sent[2] == {"role": "tool", "tool_call_id": "call_stock_1", "content": '{"price": 42}'}


def test_streamed_client_tool_calls_and_a_name_the_client_claims(
    chat_server: ServerProcess, upstream: ChatStandIn
) -> None:
    """A function the client declares under a plugin tool's name is the client's to run."""
    own_clock = {"type": "function", "function": {"name": "get_time", "parameters": {}}}
    upstream.plan(Reply(tool_calls=[ToolCall("call_t", "get_time", ["{}"])]))
    stream = chat_server.client().chat.completions.create(
        model="step-audio-chat",
        messages=[{"role": "user", "content": "What time is it?"}],
        tools=[own_clock],  # type: ignore[list-item]
        stream=True,
    )
    chunks = [c for c in stream if c.choices]
    calls = [tc for c in chunks for tc in c.choices[0].delta.tool_calls or []]
    assert [(c.id, c.function.name) for c in calls] == [("call_t", "get_time")]  # type: ignore[union-attr]
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert len(upstream.requests) == 1  # the server did not run its own get_time
    offered = [t for t in upstream.requests[0].body["tools"] if t["function"]["name"] == "get_time"]
    assert offered == [own_clock]


def test_server_tools_can_be_narrowed_per_request(
    chat_server: ServerProcess, upstream: ChatStandIn
) -> None:
    client = chat_server.client()
    upstream.plan(Reply(content=["Hi."]), Reply(content=["Hi."]))
    for chosen in ([], ["calculate"]):
        client.chat.completions.create(
            model="step-audio-chat",
            messages=[{"role": "user", "content": "Hello"}],
            extra_body={"server_tools": chosen},
        )
    assert "tools" not in upstream.requests[0].body
    assert tool_names(upstream.requests[1].body) == {"calculate"}
    try:
        client.chat.completions.create(
            model="step-audio-chat",
            messages=[{"role": "user", "content": "Hello"}],
            extra_body={"server_tools": ["launch_rocket"]},
        )
    except openai.BadRequestError as error:
        assert error.body["param"] == "server_tools"  # type: ignore[index]
        assert "launch_rocket" in error.message and "get_weather" in error.message
    else:
        raise AssertionError("an unknown server tool was accepted")


def test_weather_forecast_told_in_cantonese_with_a_cheerful_tone(
    chat_server: ServerProcess, upstream: ChatStandIn, open_meteo: OpenMeteoStandIn
) -> None:
    """Our users' example, end to end: the model calls the weather tool (run here against the
    Open-Meteo stand-in), reads its result, and the answer is spoken in Cantonese, cheerfully."""
    answer = ["東京今日天晴，", "氣溫二十度左右。", "出去玩啦！"]
    upstream.plan(
        Reply(tool_calls=[ToolCall("call_w", "get_weather", ['{"location": ', '"Tokyo"}'])]),
        Reply(content=answer),
    )
    client = chat_server.client()
    stream = client.chat.completions.create(
        model="gpt-4o-audio-preview",
        modalities=["text", "audio"],
        audio={"voice": "alloy", "format": "pcm16"},
        messages=[{"role": "user", "content": "Get the weather forecast for Tokyo and tell me "
                                              "in Cantonese with a cheerful tone."}],
        stream=True,
    )  # fmt: skip
    transcript, pcm, _ = spoken_stream(stream)
    assert transcript == "".join(answer)
    assert ("/v1/search", "Tokyo") in [(p, q.get("name")) for p, q in open_meteo.requests]
    # the model got the tool's result and its own call before it answered
    follow_up = upstream.requests[1].body["messages"]
    assert follow_up[-2]["tool_calls"][0]["function"]["name"] == "get_weather"
    result = json.loads(follow_up[-1]["content"])
    assert follow_up[-1]["tool_call_id"] == "call_w"
    assert result["location"]["name"].startswith("Tokyo") and "temperature" in result["current"]
    # spoken as /v1/audio/speech speaks the same words in Cantonese, happy (espeak-ng's yue,
    # the dialect's fallback voice); neutral Cantonese is slower and lower
    reply = decode(pcm, "pcm")

    def speech(**style: str) -> float:
        body = {"model": "tts-1", "voice": "alloy", "input": "".join(answer),
                "response_format": "pcm", **style}  # fmt: skip
        made = httpx.post(f"{chat_server.base_url}/v1/audio/speech", json=body, timeout=60)
        assert made.status_code == 200, made.text
        return decode(made.content, "pcm").duration

    happy = speech(dialect="cantonese", emotion="happy")
    neutral = speech(dialect="cantonese")
    assert abs(reply.duration - happy) < 0.12 * happy
    assert abs(reply.duration - happy) < abs(reply.duration - neutral)


def test_a_tool_that_times_out_is_reported_to_the_model_and_acknowledged(
    chat_server: ServerProcess, upstream: ChatStandIn, open_meteo: OpenMeteoStandIn
) -> None:
    """The weather service hangs: after 0.4 s the reply says it is checking; after the chat
    tool timeout (1.5 s here) the model is told, and its answer is spoken."""
    open_meteo.delay = 6.0
    sorry = "Sorry, I could not get the weather right now."
    upstream.plan(
        Reply(tool_calls=[ToolCall("call_w", "get_weather", ['{"location": "Berlin"}'])]),
        Reply(content=[sorry]),
    )
    client = chat_server.client()
    stream = client.chat.completions.create(
        model="gpt-4o-audio-preview",
        modalities=["text", "audio"],
        audio={"voice": "alloy", "format": "pcm16"},
        messages=[{"role": "user", "content": "What is the weather in Berlin?"}],
        stream=True,
    )
    transcript, pcm, pieces = spoken_stream(stream)
    assert pieces[0] == "Let me check the weather. "  # the weather tool's own phrase
    assert transcript == "Let me check the weather. " + sorry
    tool_result = json.loads(upstream.requests[1].body["messages"][-1]["content"])
    assert tool_result == {"error": "the tool 'get_weather' did not answer within 1.5 s"}
    heard = transcribe(client, pcm_to_wav(pcm))
    # Piper samples its durations and noise on every call: "could not" is heard as "cannot"
    # in some syntheses (2 of these 14 words)
    assert word_error_rate(transcript, heard) <= 0.2, heard


def test_a_turn_calling_client_and_server_tools_goes_back_to_the_client(
    chat_server: ServerProcess, upstream: ChatStandIn
) -> None:
    """Only the client's calls come back; the server's are left for the model to repeat once
    the client's results are in (their results could not reach that next request)."""
    upstream.plan(
        Reply(tool_calls=[ToolCall("call_s", "get_stock_price", ['{"symbol": "ACME"}']),
                          ToolCall("call_c", "calculate", ['{"expression": "6*7"}'])])
    )  # fmt: skip
    reply = chat_server.client().chat.completions.create(
        model="step-audio-chat",
        messages=[{"role": "user", "content": "ACME's price times 6*7?"}],
        tools=[STOCK_TOOL],  # type: ignore[list-item]
    )
    calls = reply.choices[0].message.tool_calls or []
    assert [c.id for c in calls] == ["call_s"] and reply.choices[0].finish_reason == "tool_calls"
    assert len(upstream.requests) == 1


def test_a_slow_tool_is_acknowledged_in_the_replys_dialect(
    chat_server: ServerProcess, upstream: ChatStandIn, open_meteo: OpenMeteoStandIn
) -> None:
    open_meteo.delay = 0.5  # two requests: 1 s, past the 0.4 s acknowledgement delay, within 1.5 s
    upstream.plan(
        Reply(tool_calls=[ToolCall("call_w", "get_weather", ['{"location": "Berlin"}'])]),
        Reply(content=["柏林今日好天。"]),
    )
    stream = chat_server.client().chat.completions.create(
        model="gpt-4o-audio-preview",
        modalities=["text", "audio"],
        audio={"voice": "alloy", "format": "pcm16", "dialect": "cantonese"},  # type: ignore[typeddict-unknown-key]
        messages=[{"role": "user", "content": "What is the weather in Berlin?"}],
        stream=True,
    )
    transcript, pcm, pieces = spoken_stream(stream)
    assert pieces[0] == "請等一陣。 "  # the Cantonese dialect pack's phrase
    assert transcript == "請等一陣。 柏林今日好天。"
    result = json.loads(upstream.requests[1].body["messages"][-1]["content"])
    assert result.get("location", {}).get("name", "").startswith("Berlin"), result
    assert decode(pcm, "pcm").duration > 1.0
