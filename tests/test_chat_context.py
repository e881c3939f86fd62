"""chat_context: conversations fitted into the upstream's context window, oldest turns first."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stepaudio_api.errors import InvalidRequest
from stepaudio_api.serving.chat_context import (
    SAFETY_MARGIN,
    estimate_tokens,
    message_tokens,
    trim_to_budget,
)

WORDS = "the quick brown fox jumps over a lazy dog while seven wizards quietly hum".split()


def words(count: int, seed: int = 0) -> str:
    return " ".join(WORDS[(seed + i) % len(WORDS)] for i in range(count))


def budget(context_tokens: int, reply_tokens: int, tools: list[Any]) -> int:
    tools_cost = estimate_tokens(json.dumps(tools)) if tools else 0
    return int(context_tokens * SAFETY_MARGIN) - reply_tokens - tools_cost


def total(messages: list[dict[str, Any]]) -> int:
    return sum(message_tokens(m) for m in messages)


def long_conversation(turns: int = 40, words_each: int = 150) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are a helpful voice assistant."},
        {"role": "system", "content": "Answer briefly."},
    ]
    for i in range(turns):
        messages.append({"role": "user", "content": f"question {i}: {words(words_each, i)}"})
        messages.append({"role": "assistant", "content": f"answer {i}: {words(words_each, i + 3)}"})
    messages.append({"role": "user", "content": "And what about the last one?"})
    return messages


def test_estimate_tokens_counts_cjk_characters_one_each() -> None:
    assert estimate_tokens("你好世界") == 4
    assert estimate_tokens("我哋去飲茶") == 5
    assert estimate_tokens("") == 0


def test_estimate_tokens_counts_about_four_english_characters_a_token() -> None:
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2
    assert estimate_tokens("hello world!") == 3
    text = words(400)
    assert abs(estimate_tokens(text) - len(text) / 4) <= 1


def test_estimate_tokens_of_mixed_text_adds_both() -> None:
    assert estimate_tokens("你好 hello") == 2 + 2  # two CJK, then " hello" is 6 characters


def test_message_tokens_adds_framing_and_counts_tool_calls() -> None:
    plain = message_tokens({"role": "user", "content": "abcd"})
    assert plain == 1 + 4
    assert message_tokens({"role": "assistant", "content": None}) == 4
    call = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    with_call = message_tokens({"role": "assistant", "content": None, "tool_calls": call})
    assert with_call == 4 + estimate_tokens(json.dumps(call))
    parts = {"role": "user", "content": [{"type": "text", "text": "abcd"}]}
    assert message_tokens(parts) == plain


def test_a_short_conversation_is_kept_whole() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi there"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "What time is it?"},
    ]
    kept, left_out = trim_to_budget(messages, 8192, 1024, [])
    assert kept == messages
    assert left_out == 0


def test_a_long_conversation_drops_the_oldest_turns_first() -> None:
    messages = long_conversation()
    context_tokens, reply_tokens = 2048, 256
    assert total(messages) > budget(context_tokens, reply_tokens, [])

    kept, left_out = trim_to_budget(messages, context_tokens, reply_tokens, [])

    assert left_out > 0
    assert len(kept) + left_out == len(messages)
    # the leading system messages stay, first, in order
    assert kept[:2] == messages[:2]
    # then a suffix of the turns, in their order, ending with the last user message
    rest = kept[2:]
    assert rest == messages[len(messages) - len(rest) :]
    assert rest[-1] == messages[-1] and rest[-1]["role"] == "user"
    assert rest[0]["role"] == "user"  # whole turns: never an answer without its question
    assert len(rest) > 1  # something more than the last question fits
    assert total(kept) <= budget(context_tokens, reply_tokens, [])
    # and it is as much as fits: one more (older) turn would not
    older_turn = messages[len(messages) - len(rest) - 2 : len(messages) - len(rest)]
    assert [m["role"] for m in older_turn] == ["user", "assistant"]
    assert total(kept) + total(older_turn) > budget(context_tokens, reply_tokens, [])


def test_tools_json_reduces_the_budget() -> None:
    messages = long_conversation()
    tools = [
        {
            "type": "function",
            "function": {
                "name": f"tool_{i}",
                "description": words(60, i),
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
        for i in range(3)
    ]
    kept_without, left_out_without = trim_to_budget(messages, 2048, 256, [])
    kept_with, left_out_with = trim_to_budget(messages, 2048, 256, tools)
    assert left_out_with > left_out_without
    assert len(kept_with) < len(kept_without)
    assert total(kept_with) <= budget(2048, 256, tools)
    assert budget(2048, 256, tools) < budget(2048, 256, [])


def tool_conversation(rounds: int) -> list[dict[str, Any]]:
    """Turns where the assistant calls tools (one or two calls) and answers from the results."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": "Use the tools."}]
    for i in range(rounds):
        calls = [
            {
                "id": f"call_{i}_{j}",
                "type": "function",
                "function": {"name": "get_weather", "arguments": json.dumps({"city": f"c{j}"})},
            }
            for j in range(1 + i % 2)
        ]
        messages.append({"role": "user", "content": f"weather {i}? {words(60, i)}"})
        messages.append({"role": "assistant", "content": None, "tool_calls": calls})
        for call in calls:
            messages.append(
                {"role": "tool", "tool_call_id": call["id"], "content": words(80, i + 1)}
            )
        messages.append({"role": "assistant", "content": words(40, i + 2)})
    messages.append({"role": "user", "content": "Thanks, and tomorrow?"})
    return messages


@pytest.mark.parametrize("context_tokens", [700, 900, 1200, 1600, 2048, 3000, 5000])
def test_tool_calls_and_their_results_are_never_separated(context_tokens: int) -> None:
    messages = tool_conversation(12)
    kept, left_out = trim_to_budget(messages, context_tokens, 128, [])
    assert kept[-1] == messages[-1]
    assert total(kept) <= budget(context_tokens, 128, [])
    assert len(kept) + left_out == len(messages)
    for index, message in enumerate(kept):
        if message["role"] == "tool":
            # its assistant tool_calls message is kept, before it, with only tool results between
            before = index - 1
            while kept[before]["role"] == "tool":
                before -= 1
            assert kept[before]["role"] == "assistant"
            ids = {call["id"] for call in kept[before]["tool_calls"]}
            assert message["tool_call_id"] in ids
        if message.get("tool_calls"):
            # every call's result is kept right after it
            ids = [call["id"] for call in message["tool_calls"]]
            results = kept[index + 1 : index + 1 + len(ids)]
            assert [r["role"] for r in results] == ["tool"] * len(ids)
            assert [r["tool_call_id"] for r in results] == ids


def test_tool_calls_kept_or_dropped_together_at_every_budget() -> None:
    messages = tool_conversation(6)
    for context_tokens in range(400, 4000, 37):
        try:
            kept, _ = trim_to_budget(messages, context_tokens, 64, [])
        except InvalidRequest:
            continue
        kept_ids = {id(m) for m in kept}
        for index, message in enumerate(messages):
            if message.get("tool_calls"):
                group = [message, *messages[index + 1 : index + 1 + len(message["tool_calls"])]]
                assert len({id(m) in kept_ids for m in group}) == 1, context_tokens


def test_a_last_turn_alone_over_the_budget_is_an_error() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "short"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": words(2000)},
    ]
    with pytest.raises(InvalidRequest) as caught:
        trim_to_budget(messages, 2048, 256, [])
    assert caught.value.code == "context_length_exceeded"
    assert caught.value.param == "messages"
    assert caught.value.status == 400


def test_a_cjk_last_turn_over_the_budget_is_an_error() -> None:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "你" * 2000}]
    with pytest.raises(InvalidRequest) as caught:
        trim_to_budget(messages, 2048, 256, [])
    assert caught.value.code == "context_length_exceeded"
    # the same number of English characters is about a quarter as many tokens: it fits
    kept, left_out = trim_to_budget([{"role": "user", "content": "a" * 2000}], 2048, 256, [])
    assert len(kept) == 1 and left_out == 0


def test_a_conversation_ending_in_tool_results_keeps_the_question_call_and_results() -> None:
    messages = tool_conversation(10)[:-1]  # ends: user, assistant calls, tool results, answer
    messages = messages[:-1]  # the client sends the tool results back for the model's answer
    assert messages[-1]["role"] == "tool"
    kept, left_out = trim_to_budget(messages, 700, 128, [])
    assert left_out > 0
    last_question = max(i for i, m in enumerate(messages) if m["role"] == "user")
    last_turn = messages[last_question:]
    assert [m["role"] for m in last_turn][:2] == ["user", "assistant"]
    assert kept[-len(last_turn) :] == last_turn
    assert kept[0] == messages[0]
