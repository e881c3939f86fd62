"""The prompts the Step-Audio models read, built from a tiny folder's tokenizer.model."""

from __future__ import annotations

from pathlib import Path

import pytest

from stepaudio_step_audio.chat_engine import Detokenized
from stepaudio_step_audio.prompts import (
    SYSTEM_RAP,
    SYSTEM_WITH_SPEAKER,
    SYSTEM_WITHOUT_SPEAKER,
    PromptTokenizer,
    chat_prompt_text,
    is_music,
    leading_instruction,
    tts_prompt_ids,
)
from stepaudio_step_audio.sglang_options import load_prompt_tokenizer


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> PromptTokenizer:
    from stepaudio_codec.tiny.step1_llm import write_tiny_step1

    folder: Path = tmp_path_factory.mktemp("Step-Audio-TTS-3B")
    write_tiny_step1(folder, "tts-3b", seed=0)
    return load_prompt_tokenizer(folder)


def test_tts_prompt_has_the_released_structure(tokenizer: PromptTokenizer) -> None:
    audio = [65536, 65537, 66560, 66561, 66562]
    ids = tts_prompt_ids(tokenizer, "(高兴1)你好", "那等我们", audio, speaker="Tingting")
    system = tokenizer.encode("system\n" + SYSTEM_WITH_SPEAKER.format("Tingting"))
    human, assistant = tokenizer.encode("human\n"), tokenizer.encode("assistant\n")
    expected = [1, 4, *system, 3, 4, *human, *tokenizer.continuation("那等我们"), 3,
                4, *assistant, *audio, 3, 4, *human, *tokenizer.continuation("(高兴1)你好"), 3,
                4, *assistant]  # fmt: skip
    assert ids == expected
    assert tokenizer.decode(tokenizer.continuation("(高兴1)你好")) == "(高兴1)你好"
    # the "\n" trick: a continuation does not gain the word-start piece encode() adds
    assert tokenizer.decode([*tokenizer.encode("x"), *tokenizer.continuation("hello")]) == "xhello"


def test_cloned_voices_and_music_pick_their_system_prompts(tokenizer: PromptTokenizer) -> None:
    cloned = tts_prompt_ids(tokenizer, "hello", "hi", [65536] * 5)
    assert cloned[2 : 2 + len(tokenizer.encode("system\n" + SYSTEM_WITHOUT_SPEAKER))] == (
        tokenizer.encode("system\n" + SYSTEM_WITHOUT_SPEAKER)
    )
    rap = tts_prompt_ids(tokenizer, "(RAP)yo", "hi", [65536] * 5, speaker="Tingting")
    assert rap[2 : 2 + len(tokenizer.encode("system\n" + SYSTEM_RAP))] == tokenizer.encode(
        "system\n" + SYSTEM_RAP
    )
    assert leading_instruction("(哼唱)啦啦") == "哼唱" and is_music("（RAP）yo")
    assert not is_music("hello (RAP)") and leading_instruction("hello") == ""


def test_chat_template_with_tools_and_audio() -> None:
    text = chat_prompt_text(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "<audio_0><audio_1024>"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "c1", "type": "function",
                 "function": {"name": "clock", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "12:00"},
        ],
        tools=[{"type": "function", "function": {"name": "clock"}}],
    )  # fmt: skip
    assert text.startswith('<|BOT|>tool_json_schemas\n[{"type": "function"')
    assert "<|BOT|>system\nBe brief.<|EOT|><|BOT|>human\n<audio_0><audio_1024><|EOT|>" in text
    assert '<|CALL_START|>function\n{"name": "clock", "arguments": "{}"}<|CALL_END|>' in text
    assert text.endswith("<|BOT|>function_output\n12:00<|EOT|><|BOT|>assistant\n")


def test_streamed_text_is_final_and_calls_are_held(tokenizer: PromptTokenizer) -> None:
    ids = tokenizer.encode("hello world 你好")
    text = Detokenized(tokenizer)
    pieces = [text.add([i]) for i in ids]
    assert "".join(pieces) == tokenizer.decode(ids)  # every character once, none repeated
    call = tokenizer.encode(
        'ok<|CALL_START|>function\n{"name": "clock", "arguments": {}}<|CALL_END|>'
    )
    text = Detokenized(tokenizer)
    said = "".join(text.add([i]) for i in call)
    assert said.strip() == "ok" and text.calls() == [{"name": "clock", "arguments": "{}"}]
