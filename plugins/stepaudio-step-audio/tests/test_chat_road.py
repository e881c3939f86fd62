"""Step-Audio-Chat's road on CPU through the openai SDK: the Step-Audio template, input audio
as codec tokens, text streamed from both of SGLang's streaming forms, tools in the prompt, and
a client that leaves aborting its generation."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator

import openai
import pytest
from step_audio_setup import DATA, StepAudioRoad, step_audio_road

from stepaudio_api.engines.codec import is_audio_id
from stepaudio_sglang.reference import Step1Tokenizer
from stepaudio_step_audio.prompts import chat_prompt_text

STOP_IDS = {2, 3}  # the stand-in (as SGLang) stops at the config's and the tokenizer's eos


@pytest.fixture(scope="module")
def road(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StepAudioRoad]:
    with step_audio_road(tmp_path_factory.mktemp("chat-road")) as running:
        yield running


@pytest.fixture(scope="module")
def tokenizer(road: StepAudioRoad) -> Step1Tokenizer:
    return Step1Tokenizer.from_folder(road.models / "Step-Audio-Chat")


def sdk(road: StepAudioRoad) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{road.server.base_url}/v1", api_key="sk-test", max_retries=0)


def answer_text(tokenizer: Step1Tokenizer, answer: dict) -> str:  # type: ignore[type-arg]
    return tokenizer.decode([i for i in answer["output_ids"] if i not in STOP_IDS])


MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}]


def test_a_text_turn_uses_the_step_audio_template(
    road: StepAudioRoad, tokenizer: Step1Tokenizer
) -> None:
    completion = sdk(road).chat.completions.create(model="gpt-4o-audio-preview", messages=MESSAGES)
    sent = road.chat.received[-1]
    # the server's plugin tools (calculator, clock, ...) are offered too: read them back
    prompt = tokenizer.decode(sent["input_ids"][1:])
    schemas = prompt.removeprefix("<|BOT|>tool_json_schemas\n").split("<|EOT|>")[0]
    tools = json.loads(schemas) if prompt.startswith("<|BOT|>tool_json_schemas") else []
    assert sent["input_ids"] == [1, *tokenizer.encode(chat_prompt_text(MESSAGES, tools))]
    assert prompt.endswith(
        "<|BOT|>system\nBe brief.<|EOT|><|BOT|>human\nhello<|EOT|><|BOT|>assistant\n"
    )
    assert sent["sampling_params"]["stop_token_ids"] == [3]
    assert completion.choices[0].message.content == answer_text(tokenizer, road.chat.answers[-1])
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == len(sent["input_ids"])


@pytest.mark.parametrize("incremental", [False, True], ids=["cumulative", "incremental"])
def test_streamed_text_has_no_repeats_in_either_form(
    road: StepAudioRoad, tokenizer: Step1Tokenizer, incremental: bool
) -> None:
    model = "step-audio-chat-incremental" if incremental else "step-audio-chat"
    standin = road.chat_incremental if incremental else road.chat
    stream = sdk(road).chat.completions.create(model=model, messages=MESSAGES, stream=True, seed=11)
    pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
    answer = standin.answers[-1]
    ids = answer["output_ids"]
    assert len(ids) == answer["meta_info"]["completion_tokens"] or incremental
    whole = sdk(road).chat.completions.create(model=model, messages=MESSAGES, seed=11)
    assert "".join(pieces) == whole.choices[0].message.content
    assert len([p for p in pieces if p]) > 1  # it streamed


def test_input_audio_reaches_the_model_as_codec_tokens(road: StepAudioRoad) -> None:
    clip = base64.b64encode((DATA / "en_jfk.flac").read_bytes()).decode()
    sdk(road).chat.completions.create(
        model="step-audio-chat",
        messages=[{"role": "user", "content": [
            {"type": "text", "text": "What does he say?"},
            {"type": "input_audio", "input_audio": {"data": clip, "format": "flac"}},
        ]}],
    )  # fmt: skip
    sent = road.chat.received[-1]["input_ids"]
    audio = [i for i in sent if is_audio_id(i)]
    assert len(audio) % 5 == 0
    assert 40.0 < len(audio) / 11.0 < 42.5  # 41.7 a second of the 11 s clip


def test_tools_go_in_tool_json_schemas(road: StepAudioRoad, tokenizer: Step1Tokenizer) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}}}}]  # fmt: skip
    sdk(road).chat.completions.create(model="step-audio-chat", messages=MESSAGES, tools=tools)
    prompt = tokenizer.decode(road.chat.received[-1]["input_ids"][1:])
    assert prompt.startswith("<|BOT|>tool_json_schemas\n[") and '"get_weather"' in prompt
    assert prompt.endswith("<|BOT|>assistant\n")


def test_a_client_that_leaves_aborts_within_a_second(road: StepAudioRoad) -> None:
    stream = sdk(road).chat.completions.create(
        model="step-audio-chat", messages=MESSAGES, stream=True, max_tokens=5000
    )
    next(iter(stream))
    rid = road.chat.received[-1]["rid"]
    stream.close()
    left = time.monotonic()
    while time.monotonic() < left + 1 and not any(r == rid for r, _ in road.chat.aborts):
        time.sleep(0.02)
    assert next(t for r, t in road.chat.aborts if r == rid) - left < 1.0


def test_realtime_turns_reach_the_model_as_codec_tokens(road: StepAudioRoad) -> None:
    from stepaudio_api.audio.decode import decode_audio

    pcm = decode_audio((DATA / "en_jfk.flac").read_bytes(), 24000).samples
    pcm16 = (pcm.clip(-1, 1) * 32767).astype("<i2").tobytes()
    client = sdk(road)
    with client.realtime.connect(model="step-audio-realtime") as connection:
        connection.session.update(session={
            "type": "realtime", "output_modalities": ["text"],
            "audio": {"input": {"turn_detection": None,
                                "transcription": {"model": "step-audio-asr"}}},
        })  # fmt: skip
        step = 24000 * 2 // 10  # 100 ms
        for offset in range(0, len(pcm16), step):
            connection.input_audio_buffer.append(
                audio=base64.b64encode(pcm16[offset : offset + step]).decode()
            )
        connection.input_audio_buffer.commit()
        connection.response.create()
        kinds, transcript = [], ""
        deadline = time.monotonic() + 120
        for event in connection:
            kinds.append(event.type)
            if event.type == "conversation.item.input_audio_transcription.completed":
                transcript = event.transcript
            if event.type in ("response.done", "error") or time.monotonic() > deadline:
                break
    assert kinds[-1] == "response.done", kinds
    assert "country" in transcript.lower()  # the client still gets the words
    sent = road.chat.received[-1]["input_ids"]
    audio = [i for i in sent if is_audio_id(i)]
    assert 40.0 < len(audio) / 11.0 < 42.5
