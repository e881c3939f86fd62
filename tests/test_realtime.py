"""/v1/realtime through the openai SDK's realtime clients (GA and beta), with the user's speech
made by our speech endpoint and a stand-in upstream as the chat model."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import numpy as np
import openai
import pytest
from audio_checks import JFK, decode, word_error_rate
from chat_helpers import pcm_to_wav, transcribe
from chat_stand_in import ChatStandIn, Reply, ToolCall, word_pieces
from conftest import ServerProcess
from keys import admin_get, create_key
from realtime_helpers import (
    BYTES_PER_MS,
    audio_of,
    events_until,
    send_audio,
    silence,
    speech_pcm,
    speech_span_ms,
    text_of,
)

from stepaudio_api.audio.g711 import decode_ulaw, encode_ulaw
from stepaudio_tools.testing import OpenMeteoStandIn

QUESTION = "Could you please tell me what the weather will be like tomorrow morning in the city?"
ANSWER = "It is sunny in Paris today. The temperature is mild and pleasant."


def ga(server: ServerProcess) -> Any:
    return openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="sk-test", max_retries=0)


def beta(server: ServerProcess) -> Any:
    ws = server.base_url.replace("http://", "ws://") + "/v1"
    client = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="sk-test",
                           websocket_base_url=ws, max_retries=0)  # fmt: skip
    return client.beta


def test_a_spoken_turn_with_server_vad(chat_server: ServerProcess, upstream: ChatStandIn) -> None:
    pcm = speech_pcm(chat_server, QUESTION)
    start_ms, end_ms = speech_span_ms(pcm)
    # two: a pause inside the question may start a speculative response, thrown away when
    # the user goes on (it takes a planned reply with it)
    upstream.plan(*[Reply(content=word_pieces(ANSWER))] * 2)
    with ga(chat_server).realtime.connect(model="gpt-realtime") as connection:
        created = events_until(connection, "session.created")[-1]
        assert created.session.type == "realtime"
        detection = created.session.audio.input.turn_detection
        assert (detection.type, detection.silence_duration_ms) == ("server_vad", 500)
        send_audio(connection, pcm, chunk_ms=40)
        events = events_until(connection, "response.done")
    kinds = [e.type for e in events]
    started = next(e for e in events if e.type == "input_audio_buffer.speech_started")
    stopped = next(e for e in events if e.type == "input_audio_buffer.speech_stopped")
    # offsets on the input audio's clock: the start less the 300 ms prefix, the end plus the
    # 500 ms of silence that ended the turn
    assert abs(started.audio_start_ms - max(0.0, start_ms - 300)) <= 120, (started, start_ms)
    assert abs(stopped.audio_end_ms - (end_ms + 500)) <= 150, (stopped, end_ms)
    assert started.item_id == stopped.item_id
    committed = next(e for e in events if e.type == "input_audio_buffer.committed")
    assert committed.item_id == started.item_id
    order = ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
             "input_audio_buffer.committed", "response.created", "response.output_item.added",
             "response.content_part.added", "response.output_audio.delta",
             "response.output_audio.done", "response.output_audio_transcript.done",
             "response.content_part.done", "response.output_item.done",
             "response.done"]  # fmt: skip
    positions = [kinds.index(k) for k in order]
    assert positions == sorted(positions), kinds
    done = events[-1].response
    assert done.status == "completed" and done.usage.output_token_details.audio_tokens > 0
    assert text_of(events, "response.output_audio_transcript.delta") == ANSWER
    # items are sent as they were when each event happened, even when the response was
    # prepared during a pause and held back: the answer in progress, the user's words later
    added = next(e for e in events if e.type == "response.output_item.added")
    assert added.item.status == "in_progress", added.item
    user_added = next(e for e in events if e.type == "conversation.item.added"
                      and e.item.role == "user")  # fmt: skip
    assert user_added.item.content[0].transcript is None, user_added.item
    answer_done = next(e for e in events if e.type == "conversation.item.done"
                       and e.item.role == "assistant")  # fmt: skip
    assert answer_done.previous_item_id == committed.item_id
    heard = upstream.requests[-1].body["messages"][-1]  # the request that made the answer
    assert heard["role"] == "user" and word_error_rate(QUESTION, heard["content"]) <= 0.10
    reply = audio_of(events)
    assert 3.0 < decode(reply, "pcm").duration < 9.0
    heard_back = transcribe(ga(chat_server), pcm_to_wav(reply))
    assert word_error_rate(ANSWER, heard_back) <= 0.10, heard_back


def test_the_beta_client_gets_beta_events(
    chat_server: ServerProcess, upstream: ChatStandIn
) -> None:
    pcm = speech_pcm(chat_server, QUESTION)
    upstream.plan(*[Reply(content=word_pieces(ANSWER))] * 2)  # a speculation may take one
    with beta(chat_server).realtime.connect(model="gpt-4o-realtime-preview") as connection:
        created = events_until(connection, "session.created")[-1]
        assert created.session.input_audio_format == "pcm16"
        assert created.session.modalities == ["text", "audio"]
        transcription = {"model": "step-audio-asr"}  # English, fast
        connection.session.update(session={"input_audio_transcription": transcription})
        send_audio(connection, pcm, chunk_ms=100)
        events = events_until(connection, "response.done")
    kinds = set(e.type for e in events)
    assert {"response.audio.delta", "response.audio_transcript.delta", "response.audio.done",
            "conversation.item.created"} <= kinds  # fmt: skip
    assert not {k for k in kinds if "output_audio" in k or k == "conversation.item.added"}
    assert text_of(events, "response.audio_transcript.delta") == ANSWER
    completed = "conversation.item.input_audio_transcription.completed"
    transcribed = next(e for e in events if e.type == completed)
    assert word_error_rate(QUESTION, transcribed.transcript) <= 0.10
    assert len(audio_of(events, "response.audio.delta")) > 24000 * 2 * 2


def test_a_text_turn(chat_server: ServerProcess, upstream: ChatStandIn) -> None:
    upstream.plan(Reply(content=["Bonjour", " to you."]))
    with ga(chat_server).realtime.connect(model="gpt-realtime") as connection:
        connection.session.update(session={"type": "realtime", "output_modalities": ["text"],
                                           "instructions": "Be brief."})  # fmt: skip
        connection.conversation.item.create(item={
            "type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "Say hello in French"}]})  # fmt: skip
        connection.response.create()
        events = events_until(connection, "response.done")
    assert text_of(events, "response.output_text.delta") == "Bonjour to you."
    assert not [e for e in events if "audio" in e.type]
    assert upstream.requests[0].body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hello in French"},
    ]


SYMBOL = {"type": "object", "properties": {"symbol": {"type": "string"}}}
STOCK = {"type": "function", "name": "get_stock_price", "description": "A stock's price",
         "parameters": SYMBOL}  # fmt: skip


def test_a_function_call_turn(chat_server: ServerProcess, upstream: ChatStandIn) -> None:
    upstream.plan(
        Reply(tool_calls=[ToolCall("call_9", "get_stock_price", ['{"symbol":', ' "ACME"}'])]),
        Reply(content=["ACME is at 42."]),
    )
    with ga(chat_server).realtime.connect(model="gpt-realtime") as connection:
        connection.session.update(session={"type": "realtime", "output_modalities": ["text"],
                                           "tools": [STOCK]})  # fmt: skip
        connection.conversation.item.create(item={"type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "Price of ACME?"}]})  # fmt: skip
        connection.response.create()
        events = events_until(connection, "response.done")
        done = next(e for e in events if e.type == "response.function_call_arguments.done")
        assert (done.name, done.call_id) == ("get_stock_price", "call_9")
        assert json.loads(done.arguments) == {"symbol": "ACME"}
        item = events[-1].response.output[0]
        assert (item.type, item.name, item.status) == ("function_call", "get_stock_price",
                                                       "completed")  # fmt: skip
        output = {"type": "function_call_output", "call_id": "call_9", "output": '{"price": 42}'}
        connection.conversation.item.create(item=output)
        connection.response.create()
        events = events_until(connection, "response.done")
    assert text_of(events, "response.output_text.delta") == "ACME is at 42."
    sent = upstream.requests[1].body["messages"]
    assert sent[-2]["tool_calls"][0]["function"]["name"] == "get_stock_price"
    assert sent[-1] == {"role": "tool", "tool_call_id": "call_9", "content": '{"price": 42}'}
    assert "get_stock_price" in [t["function"]["name"] for t in upstream.requests[0].body["tools"]]


def test_a_server_tool_turn(chat_server: ServerProcess, upstream: ChatStandIn,
                            open_meteo: OpenMeteoStandIn) -> None:  # fmt: skip
    upstream.plan(
        Reply(tool_calls=[ToolCall("call_w", "get_weather", ['{"location": "Tokyo"}'])]),
        Reply(content=word_pieces("Tokyo is clear and warm today.")),
    )
    with ga(chat_server).realtime.connect(model="gpt-realtime") as connection:
        connection.conversation.item.create(item={"type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "Weather in Tokyo?"}]})  # fmt: skip
        connection.response.create()
        events = events_until(connection, "response.done")
    assert text_of(events, "response.output_audio_transcript.delta") == (
        "Tokyo is clear and warm today.")  # fmt: skip
    result = json.loads(upstream.requests[1].body["messages"][-1]["content"])
    assert result["location"]["name"].startswith("Tokyo")
    assert [e for e in events if e.type.startswith("response.function_call")] == []
    assert decode(audio_of(events), "pcm").duration > 1.0


def test_barge_in_cancels_the_response(chat_server: ServerProcess, upstream: ChatStandIn) -> None:
    interruption = speech_pcm(chat_server, "Stop, stop please.", lead_ms=0, tail_ms=800)
    long_answer = [f" This is sentence number {i} of a long answer." for i in range(30)]
    upstream.plan(Reply(content=long_answer, chunk_delay=0.15))
    with ga(chat_server).realtime.connect(model="gpt-realtime") as connection:
        connection.conversation.item.create(item={"type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "Tell me a long story"}]})  # fmt: skip
        connection.response.create()
        events = events_until(connection, "response.output_audio.delta")
        send_audio(connection, silence(300) + interruption, chunk_ms=50, paced=True)
        events += events_until(connection, "response.done")
        interrupted_at = next(i for i, e in enumerate(events)
                              if e.type == "input_audio_buffer.speech_started")  # fmt: skip
    done = events[-1].response
    assert done.status == "cancelled"
    assert done.status_details.reason == "turn_detected"
    assert done.output[0].status == "incomplete"
    # audio stops promptly: few deltas after the user started speaking
    late = [e for e in events[interrupted_at:] if e.type == "response.output_audio.delta"]
    assert len(late) <= 3
    assert upstream.wait_for_close(0, 2.0) is not None  # the upstream answer was abandoned


def test_truncate_drops_what_was_not_heard(
    chat_server: ServerProcess, upstream: ChatStandIn
) -> None:
    upstream.plan(Reply(content=word_pieces(ANSWER)))
    with ga(chat_server).realtime.connect(model="gpt-realtime") as connection:
        connection.conversation.item.create(item={"type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "Weather?"}]})  # fmt: skip
        connection.response.create()
        events = events_until(connection, "response.done")
        item_id = events[-1].response.output[0].id
        spoken_ms = len(audio_of(events)) / 48
        connection.conversation.item.truncate(item_id=item_id, content_index=0, audio_end_ms=1500)
        truncated = events_until(connection, "conversation.item.truncated")[-1]
        assert (truncated.item_id, truncated.audio_end_ms) == (item_id, 1500)
        connection.conversation.item.retrieve(item_id=item_id)
        item = events_until(connection, "conversation.item.retrieved")[-1].item
        heard = item.content[0].transcript
        assert ANSWER.startswith(heard) and 0 < len(heard) < len(ANSWER) * 1500 / spoken_ms + 12
        connection.conversation.item.truncate(item_id=item_id, content_index=0,
                                              audio_end_ms=int(spoken_ms) + 5000)  # fmt: skip
        error = events_until(connection, "error")[-1].error
        assert error.param == "audio_end_ms"


def test_response_cancel(chat_server: ServerProcess, upstream: ChatStandIn) -> None:
    upstream.plan(Reply(content=[f" part {i}." for i in range(40)], chunk_delay=0.1))
    with ga(chat_server).realtime.connect(model="gpt-realtime") as connection:
        connection.session.update(session={"type": "realtime", "output_modalities": ["text"]})
        connection.conversation.item.create(item={"type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "Count"}]})  # fmt: skip
        connection.response.create()
        events_until(connection, "response.output_text.delta")
        connection.response.cancel()
        done = events_until(connection, "response.done")[-1].response
        assert (done.status, done.status_details.reason) == ("cancelled", "client_cancelled")
        connection.response.cancel()
        error = events_until(connection, "error")[-1].error
        assert error.code == "response_cancel_not_active"


def test_a_transcription_session_on_jfk(chat_server: ServerProcess, testdata: Any) -> None:
    from stepaudio_api.audio.decode import decode_audio

    samples = decode_audio((testdata / "en_jfk.flac").read_bytes(), 24000).samples
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes() + silence(1500)
    reference = JFK
    client = ga(chat_server)
    with client.realtime.connect(extra_query={"intent": "transcription"}) as connection:
        created = events_until(connection, "session.created")[-1]
        assert created.session.type == "transcription"
        connection.session.update(session={"type": "transcription", "audio": {"input": {
            "transcription": {"model": "step-audio-asr", "language": "en"},
            "turn_detection": {"type": "server_vad", "silence_duration_ms": 800}}}})  # fmt: skip
        send_audio(connection, pcm, chunk_ms=100)
        # every turn has been committed by VAD once the (silent) rest is cleared
        connection.input_audio_buffer.clear()
        events, order, texts, cleared = [], [], {}, False
        for event in connection:
            events.append(event.type)
            if event.type == "input_audio_buffer.committed":
                order.append(event.item_id)
            elif event.type == "conversation.item.input_audio_transcription.completed":
                texts[event.item_id] = event.transcript  # they may complete out of order
                assert event.usage.type == "duration" and event.usage.seconds > 0
            elif event.type == "input_audio_buffer.cleared":
                cleared = True
            if cleared and order and len(texts) == len(order):
                break
    assert "response.created" not in events
    heard = " ".join(texts[item_id] for item_id in order)
    assert word_error_rate(reference, heard) <= 0.10, heard


def test_a_diarizing_transcription_session_names_each_turns_speaker(
    chat_server: ServerProcess, testdata: Any
) -> None:
    """input_audio_transcription with the diarize model: each turn's segments come as
    conversation.item.input_audio_transcription.segment events with a speaker, and a speaker
    keeps one label from turn to turn."""
    from stepaudio_api.audio.decode import decode_audio

    def pcm_of(name: str) -> bytes:
        samples = decode_audio((testdata / name).read_bytes(), 24000).samples
        return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()

    pcm = pcm_of("en_jfk.flac") + silence(2500) + pcm_of("zh_yuqian_prompt.wav") + silence(2500)
    with ga(chat_server).realtime.connect(extra_query={"intent": "transcription"}) as connection:
        events_until(connection, "session.created")
        connection.session.update(session={"type": "transcription", "audio": {"input": {
            "transcription": {"model": "gpt-4o-transcribe-diarize"},
            "turn_detection": {"type": "server_vad", "silence_duration_ms": 2000}}}})  # fmt: skip
        send_audio(connection, pcm, chunk_ms=100)
        connection.input_audio_buffer.clear()
        order, speakers, texts, cleared = [], {}, {}, False
        for event in connection:
            if event.type == "input_audio_buffer.committed":
                order.append(event.item_id)
            elif event.type == "conversation.item.input_audio_transcription.segment":
                assert event.end > event.start >= 0 and event.text and event.id
                speakers.setdefault(event.item_id, set()).add(event.speaker)
            elif event.type == "conversation.item.input_audio_transcription.completed":
                texts[event.item_id] = event.transcript
            elif event.type == "input_audio_buffer.cleared":
                cleared = True
            if cleared and order and len(texts) == len(order):
                break
    assert len(order) == 2, (order, texts)
    kennedy, yuqian = (speakers[item] for item in order)
    assert kennedy == {"A"} and yuqian == {"B"}, speakers
    assert word_error_rate(JFK, texts[order[0]]) <= 0.15, texts


def test_g711_in_and_out(chat_server: ServerProcess, upstream: ChatStandIn) -> None:
    pcm = speech_pcm(chat_server, QUESTION)
    samples24 = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
    samples8 = samples24[::3]  # the speech endpoint's audio has nothing above 4 kHz to alias
    ulaw = encode_ulaw(samples8.astype(np.int16))
    upstream.plan(*[Reply(content=word_pieces(ANSWER))] * 2)  # a speculation may take one
    with ga(chat_server).realtime.connect(model="gpt-realtime") as connection:
        connection.session.update(session={"type": "realtime", "audio": {
            "input": {"format": {"type": "audio/pcmu"}},
            "output": {"format": {"type": "audio/pcmu"}}}})  # fmt: skip
        updated = events_until(connection, "session.updated")[-1]
        assert updated.session.audio.output.format.type == "audio/pcmu"
        step = 8000 // 20  # 50 ms of u-law
        for offset in range(0, len(ulaw), step):
            connection.input_audio_buffer.append(
                audio=base64.b64encode(ulaw[offset : offset + step]).decode())  # fmt: skip
        events = events_until(connection, "response.done")
    heard = upstream.requests[-1].body["messages"][-1]["content"]  # the answer's request
    assert word_error_rate(QUESTION, heard) <= 0.15, heard
    reply = audio_of(events)  # u-law bytes at 8 kHz: one byte a sample
    pcm8 = decode_ulaw(reply)
    assert 3.0 < len(pcm8) / 8000 < 9.0
    wav = pcm_to_wav(pcm8.astype("<i2").tobytes(), rate=8000)
    assert word_error_rate(ANSWER, transcribe(ga(chat_server), wav)) <= 0.15


def test_a_pause_inside_a_turn_is_not_its_end(
    chat_server: ServerProcess, upstream: ChatStandIn
) -> None:
    """A 400 ms pause (under the 500 ms that ends a turn) may start a speculative response,
    but nothing of it is sent: one response, after the commit, for the whole sentence."""
    first = speech_pcm(chat_server, "I would like to book a table", lead_ms=300, tail_ms=0)
    second = speech_pcm(chat_server, "for two people tonight at eight.", lead_ms=0, tail_ms=1200)
    # exactly 350 ms of silence between the words (the speech endpoint's own trailing and
    # leading silences cut away)
    first = first[: int(speech_span_ms(first)[1]) * BYTES_PER_MS] + silence(350)
    second = second[int(speech_span_ms(second)[0]) * BYTES_PER_MS :]
    upstream.plan(Reply(content=["Booked."]), Reply(content=["Booked."]))
    with ga(chat_server).realtime.connect(model="gpt-realtime") as connection:
        send_audio(connection, first + second, chunk_ms=20, paced=True)
        # a response ends with response.done, then rate_limits.updated: a speculation thrown
        # away, even one that was ready, sends neither (nor is it counted)
        events = events_until(connection, "rate_limits.updated")
    kinds = [e.type for e in events]
    assert kinds.index("response.done") == len(kinds) - 2, kinds
    assert kinds.count("response.created") == 1 and kinds.count("input_audio_buffer.committed") == 1
    assert kinds.index("input_audio_buffer.committed") < kinds.index("response.created")
    assert kinds.count("input_audio_buffer.speech_started") == 1
    sent = upstream.requests[-1].body["messages"][-1]["content"]
    whole = "I would like to book a table for two people tonight at eight."
    assert word_error_rate(whole, sent) <= 0.15, sent
    assert 1 <= len(upstream.requests) <= 2  # at most one speculation, thrown away


def test_semantic_vad_eagerness(chat_server: ServerProcess, upstream: ChatStandIn) -> None:
    """semantic_vad ends a finished-sounding turn after a short pause when eager, a long one
    when not."""
    pcm = speech_pcm(chat_server, "Please tell me a joke about cats.", tail_ms=2000)
    _, end_ms = speech_span_ms(pcm)
    waited = {}
    for eagerness in ("high", "low"):
        upstream.plan(Reply(content=["Meow."]))
        with ga(chat_server).realtime.connect(model="gpt-realtime") as connection:
            connection.session.update(session={"type": "realtime", "output_modalities": ["text"],
                "audio": {"input": {"turn_detection": {"type": "semantic_vad",
                                                        "eagerness": eagerness}}}})  # fmt: skip
            send_audio(connection, pcm, chunk_ms=20, paced=True)
            events = events_until(connection, "response.done")
        stopped = next(e for e in events if e.type == "input_audio_buffer.speech_stopped")
        waited[eagerness] = stopped.audio_end_ms - end_ms
    assert waited["high"] < 600 and waited["low"] >= 800, waited


def test_idle_timeout_prompts_a_silent_user(
    chat_server: ServerProcess, upstream: ChatStandIn
) -> None:
    upstream.plan(Reply(content=["Are you still there?"]))
    with ga(chat_server).realtime.connect(model="gpt-realtime") as connection:
        connection.session.update(session={"type": "realtime", "output_modalities": ["text"],
            "audio": {"input": {"turn_detection": {"type": "server_vad",
                                                    "idle_timeout_ms": 1000}}}})  # fmt: skip
        send_audio(connection, silence(1500), chunk_ms=50)
        events = events_until(connection, "response.done")
    timeout = next(e for e in events if e.type == "input_audio_buffer.timeout_triggered")
    assert 950 <= timeout.audio_end_ms - timeout.audio_start_ms <= 1100
    assert text_of(events, "response.output_text.delta") == "Are you still there?"
    assert [e.type for e in events].count("input_audio_buffer.speech_started") == 0


def test_session_instructions_choose_the_dialect(chat_server: ServerProcess,
                                                 upstream: ChatStandIn) -> None:  # fmt: skip
    """ "Answer in Cantonese" in the session's instructions: the reply is spoken as
    /v1/audio/speech speaks Cantonese (espeak-ng's yue, the dialect's fallback voice)."""
    answer = "今日天氣好好。"
    upstream.plan(Reply(content=[answer]))
    with ga(chat_server).realtime.connect(model="gpt-realtime") as connection:
        instructions = "Always answer in Cantonese."
        connection.session.update(session={"type": "realtime", "instructions": instructions})
        connection.conversation.item.create(item={"type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "How is the weather?"}]})  # fmt: skip
        connection.response.create()
        events = events_until(connection, "response.done")
    spoken = decode(audio_of(events), "pcm").duration
    body = {"model": "tts-1", "voice": "alloy", "input": answer, "response_format": "pcm",
            "dialect": "cantonese"}  # fmt: skip
    reference = httpx.post(f"{chat_server.base_url}/v1/audio/speech", json=body, timeout=60)
    expected = decode(reference.content, "pcm").duration
    assert abs(spoken - expected) < 0.15 * expected, (spoken, expected)


def test_a_chinese_reply_from_an_english_voice_is_spoken_in_chinese(
    chat_server: ServerProcess, upstream: ChatStandIn
) -> None:
    """No dialect asked for, the session's voice English (alloy): the Chinese reply is spoken
    by the Mandarin pack's voice, as /v1/audio/speech speaks it to tts-1, and heard back."""
    from test_multilingual import character_error_rate

    answer = "今天天气很好，我们去公园散步吧。"
    upstream.plan(Reply(content=word_pieces(answer)))
    with ga(chat_server).realtime.connect(model="gpt-realtime") as connection:
        connection.session.update(session={"type": "realtime", "instructions": "Be brief."})
        connection.conversation.item.create(item={"type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "How is the weather?"}]})  # fmt: skip
        connection.response.create()
        events = events_until(connection, "response.done")
    pcm = audio_of(events)
    assert 1.5 < decode(pcm, "pcm").duration < 8.0
    heard = (
        ga(chat_server)
        .audio.transcriptions.create(
            model="step-audio-asr-multilingual", file=("reply.wav", pcm_to_wav(pcm)), language="zh"
        )
        .text
    )
    assert character_error_rate(answer, heard) <= 0.3, heard


def test_a_session_is_one_usage_record_and_is_kept(chat_server: ServerProcess,
                                                   upstream: ChatStandIn) -> None:  # fmt: skip
    admin_key = create_key(chat_server, "rt-admin-usage", "--admin")
    key = create_key(chat_server, "rt-metered")
    pcm = speech_pcm(chat_server, QUESTION)
    upstream.plan(*[Reply(content=word_pieces(ANSWER))] * 2)  # a speculation may take one
    client = openai.OpenAI(base_url=f"{chat_server.base_url}/v1", api_key=key, max_retries=0)
    with client.realtime.connect(model="gpt-realtime") as connection:
        session_id = events_until(connection, "session.created")[-1].session.id
        send_audio(connection, pcm, chunk_ms=100)
        events_until(connection, "response.done")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        stored = admin_get(chat_server, admin_key, f"/admin/sessions/{session_id}")
        if stored["status"] == "closed":
            break
        time.sleep(0.1)
    assert stored["status"] == "closed" and stored["type"] == "realtime"
    assert [i["role"] for i in stored["items"]] == ["user", "assistant"]
    assert word_error_rate(QUESTION, stored["items"][0]["content"][0]["transcript"]) <= 0.10
    assert stored["items"][1]["content"][0]["transcript"] == ANSWER
    assert abs(stored["audio_seconds_in"] - len(pcm) / 48000) < 0.05
    assert stored["audio_seconds_out"] > 2.0
    records = admin_get(chat_server, admin_key, "/admin/usage/records",
                        key_id=stored["key_id"])["data"]  # fmt: skip
    assert [(r["capability"], r["status"]) for r in records] == [("realtime", "completed")]
    assert records[0]["audio_seconds_in"] == pytest.approx(stored["audio_seconds_in"], abs=0.01)
    assert records[0]["output_tokens"] == stored["output_tokens"] > 0


def test_a_beta_transcription_session(chat_server: ServerProcess) -> None:
    pcm = speech_pcm(chat_server, QUESTION)
    with beta(chat_server).realtime.connect(model="gpt-4o-transcribe") as connection:
        hearing = {"model": "gpt-4o-transcribe", "language": "en"}
        connection.transcription_session.update(
            session={"input_audio_format": "pcm16", "input_audio_transcription": hearing}
        )
        updated = events_until(connection, "transcription_session.updated")[-1]
        assert updated.session.input_audio_transcription.model == "gpt-4o-transcribe"
        send_audio(connection, pcm, chunk_ms=100)
        completed = "conversation.item.input_audio_transcription.completed"
        events = events_until(connection, completed)
    assert word_error_rate(QUESTION, events[-1].transcript) <= 0.10
    assert "response.created" not in [e.type for e in events]


def test_turn_detection_changed_between_turns(chat_server: ServerProcess,
                                              upstream: ChatStandIn) -> None:  # fmt: skip
    """A session.update that changes turn detection keeps the session's clock: the next turn's
    offsets and audio are right."""
    first = speech_pcm(chat_server, "What time does the library open tomorrow?")
    second = speech_pcm(chat_server, "And when does it close in the evening?")
    upstream.default = Reply(content=["At nine."])  # however many a speculation takes
    with ga(chat_server).realtime.connect(model="gpt-realtime") as connection:
        send_audio(connection, first, chunk_ms=50)
        events_until(connection, "response.done")
        connection.session.update(session={"type": "realtime", "audio": {"input": {
            "turn_detection": {"type": "server_vad", "silence_duration_ms": 700}}}})  # fmt: skip
        send_audio(connection, second, chunk_ms=50)
        events = events_until(connection, "response.done")
    started = next(e for e in events if e.type == "input_audio_buffer.speech_started")
    start_ms, _ = speech_span_ms(second)
    expected = len(first) / BYTES_PER_MS + start_ms - 300
    assert abs(started.audio_start_ms - expected) <= 120, (started.audio_start_ms, expected)
    heard = upstream.requests[-1].body["messages"][-1]["content"]  # the second answer's request
    assert word_error_rate("And when does it close in the evening?", heard) <= 0.15, heard


def test_a_minute_of_silence_committed_is_heard_as_nothing(chat_server: ServerProcess) -> None:
    with ga(chat_server).realtime.connect(model="gpt-realtime") as connection:
        connection.session.update(session={"type": "realtime", "audio": {"input": {
            "turn_detection": None, "transcription": {"model": "whisper-1"}}}})  # fmt: skip
        send_audio(connection, silence(60_000), chunk_ms=1000)
        connection.input_audio_buffer.commit()
        events = events_until(connection,
                              "conversation.item.input_audio_transcription.completed")  # fmt: skip
    assert events[-1].transcript == "", events[-1].transcript
    assert "response.created" not in [e.type for e in events]
