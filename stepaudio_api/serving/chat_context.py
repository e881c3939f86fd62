"""Fit a conversation into the upstream's context window: oldest turns go first.

The upstream's tokenizer is not known here, so tokens are estimated the way OpenAI's own
guidance does for English (about four characters a token), one token per CJK character, and a
few tokens of framing per message; the budget keeps a margin for the difference.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from stepaudio_api.errors import InvalidRequest

_CJK = re.compile(r"[\u3000-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
MESSAGE_OVERHEAD_TOKENS = 4
SAFETY_MARGIN = 0.9


def estimate_tokens(text: str) -> int:
    cjk = len(_CJK.findall(text))
    return cjk + math.ceil((len(text) - cjk) / 4)


def message_tokens(message: dict[str, Any]) -> int:
    content = message.get("content")
    audio_tokens = 0
    if isinstance(content, list):
        text = " ".join(str(p.get("text", "")) if isinstance(p, dict) else "" for p in content)
        heard = [
            p["input_audio"]
            for p in content
            if isinstance(p, dict) and "samples" in (p.get("input_audio") or {})
        ]
        # audio a model hears itself: its codec tokens, 125 / 3 a second (Step-Audio's)
        audio_tokens = sum(math.ceil(len(a["samples"]) / a["sample_rate"] * 125 / 3) for a in heard)
        # an image or file part: its size is unknown here; count it as a small one
        others = sum(1 for p in content if isinstance(p, dict) and "text" not in p) - len(heard)
        text += " " * 340 * others
    else:
        text = content or ""
    calls = message.get("tool_calls")
    if calls:
        text += json.dumps(calls)
    return MESSAGE_OVERHEAD_TOKENS + estimate_tokens(text) + audio_tokens


def _turns(
    messages: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]:
    """Leading system messages, then turns: each user message with what follows it (the
    assistant's answer, its tool calls and their results stay together)."""
    head: list[dict[str, Any]] = []
    turns: list[list[dict[str, Any]]] = []
    for message in messages:
        if not turns and message.get("role") == "system":
            head.append(message)
        elif message.get("role") == "user" or not turns:
            turns.append([message])
        else:
            turns[-1].append(message)
    return head, turns


def trim_to_budget(
    messages: list[dict[str, Any]], context_tokens: int, reply_tokens: int, tools: list[Any]
) -> tuple[list[dict[str, Any]], int]:
    """The messages that fit, and how many were left out (oldest whole turns first). The
    system messages and the last turn are always kept; a 400 if even they do not fit."""
    budget = int(context_tokens * SAFETY_MARGIN) - reply_tokens
    tool_tokens = estimate_tokens(json.dumps(tools)) if tools else 0
    if tool_tokens and tool_tokens >= budget:
        raise InvalidRequest(
            f"The {len(tools)} tools' definitions need about {tool_tokens} tokens, more than "
            f"the {max(budget, 0)} this model's context window of {context_tokens} tokens "
            f"leaves after {reply_tokens} for the answer; offer fewer tools or shorter ones",
            param="tools",
            code="context_length_exceeded",
        )
    budget -= tool_tokens
    head, turns = _turns(messages)
    used = sum(message_tokens(m) for m in head)
    kept: list[list[dict[str, Any]]] = []
    for turn in reversed(turns):
        cost = sum(message_tokens(m) for m in turn)
        if kept and used + cost > budget:
            break
        kept.append(turn)
        used += cost
    if used > budget:
        raise InvalidRequest(
            f"The conversation's last turn and system messages need about {used} tokens, more "
            f"than the {budget} this model's context window of {context_tokens} tokens leaves "
            f"after {reply_tokens} for the answer; shorten them or lower max_tokens",
            param="messages",
            code="context_length_exceeded",
        )
    kept.reverse()
    left_out = sum(len(t) for t in turns) - sum(len(t) for t in kept)
    return head + [m for turn in kept for m in turn], left_out
