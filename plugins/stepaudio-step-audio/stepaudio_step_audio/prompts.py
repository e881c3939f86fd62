"""The prompts Step-Audio's models were trained on, as token ids.

TTS-3B (StepFun's ``tts.py``): ``[1]``, then ``<|BOT|>system\\n{system prompt}<|EOT|>``, then
the voice's prompt clip as one exchange (``<|BOT|>human\\n{its transcript}<|EOT|>
<|BOT|>assistant\\n{its audio tokens}<|EOT|>``), then ``<|BOT|>human\\n{tags}{text}<|EOT|>
<|BOT|>assistant\\n``. The system prompt names a built-in speaker (``使用[{name}]的声音``), or
none for a cloned voice; RAP and humming have their own. Texts are encoded after a ``"\\n"``
whose own ids are then dropped, so that SentencePiece adds no word-start piece before them.

Chat (StepFun's ``stepaudio.py``): ``<|BOT|>{role}\\n{content}<|EOT|>`` per message, user
spelled ``human``, audio content as its ``<audio_N>`` tokens, and ``<|BOT|>assistant\\n`` to
answer; the tokenizer adds ``<s>``. Tool schemas go in a message of role
``tool_json_schemas``.

The system prompts below are the model's training data, reproduced as the model expects them
(Apache-2.0, stepfun-ai/Step-Audio).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

BOS_ID, EOT_ID, BOT_ID = 1, 3, 4

_TAG_GUIDE = (
    "作为一名卓越的声优演员，你的任务是根据文本中（）或()括号内标注的情感、语种或方言、音乐哼唱、"
    "语音调整等标签，以丰富细腻的情感和自然顺畅的语调来朗读文本。\n"
    '# 情感标签涵盖了多种情绪状态，包括但不限于：\n- "高兴1"\n- "高兴2"\n- "生气1"\n- "生气2"\n'
    '- "悲伤1"\n- "撒娇1"\n\n'
    '# 语种或方言标签包含多种语言或方言，包括但不限于：\n- "中文"\n- "英文"\n- "韩语"\n- "日语"\n'
    '- "四川话"\n- "粤语"\n- "广东话"\n\n'
    '# 音乐哼唱标签包含多种类型歌曲哼唱，包括但不限于：\n- "RAP"\n- "哼唱"\n\n'
    '# 语音调整标签，包括但不限于：\n- "慢速1"\n- "慢速2"\n- "快速1"\n- "快速2"\n\n'
)
_TAG_TAIL = (
    "根据这些情感标签的指示，调整你的情感、语气、语调和哼唱节奏，以确保文本的情感和意义得到准确而"
    "生动的传达，如果没有()或（）括号，则根据文本语义内容自由演绎。"
)
SYSTEM_WITHOUT_SPEAKER = _TAG_GUIDE + "请在朗读时，" + _TAG_TAIL
SYSTEM_WITH_SPEAKER = _TAG_GUIDE + "请在朗读时，使用[{}]的声音，" + _TAG_TAIL
SYSTEM_RAP = "请参考对话历史里的音色，用RAP方式将文本内容大声说唱出来。"
SYSTEM_HUM = "请参考对话历史里的音色，用哼唱的方式将文本内容大声唱出来。"

_LEADING_TAG = re.compile(r"^([（\(][^\(\)()]*[）\)]).*$", re.DOTALL)


def leading_instruction(text: str) -> str:
    """The first parenthesised tag of ``text`` when it opens the text (``RAP``, ``哼唱``,
    ``高兴1``...), else ``""``: what decides the music decoder and system prompt."""
    match = _LEADING_TAG.match(text)
    return match.group(1).strip("()（）") if match else ""


def is_music(text: str) -> bool:
    return leading_instruction(text) in ("RAP", "哼唱")


def tts_system_prompt(text: str, speaker: str) -> str:
    if is_music(text):
        return SYSTEM_HUM if "哼唱" in text else SYSTEM_RAP
    return SYSTEM_WITH_SPEAKER.format(speaker) if speaker else SYSTEM_WITHOUT_SPEAKER


class PromptTokenizer:
    """``encode`` / ``decode`` of a SentencePiece model (no ``<s>``), and text encoded as a
    continuation."""

    def __init__(self, encode: Callable[[str], list[int]], decode: Callable[[list[int]], str]):
        self.encode = encode
        self.decode = decode
        self._newline = list(encode("\n"))

    def continuation(self, text: str) -> list[int]:
        ids = list(self.encode("\n" + text))
        return ids[len(self._newline) :]


def tts_prompt_ids(
    tokenizer: PromptTokenizer,
    text: str,
    prompt_text: str,
    prompt_audio_ids: Sequence[int],
    speaker: str = "",
) -> list[int]:
    """The TTS-3B prompt for ``text`` (tags already in front) in the voice of a prompt clip
    (its transcript and interleaved audio ids); ``speaker`` names a built-in speaker."""
    system = tokenizer.encode(f"system\n{tts_system_prompt(text, speaker)}")
    human, assistant = tokenizer.encode("human\n"), tokenizer.encode("assistant\n")
    return [
        BOS_ID,
        *[BOT_ID, *system, EOT_ID],
        *[BOT_ID, *human, *tokenizer.continuation(prompt_text), EOT_ID],
        *[BOT_ID, *assistant, *[int(i) for i in prompt_audio_ids], EOT_ID],
        *[BOT_ID, *human, *tokenizer.continuation(text), EOT_ID],
        *[BOT_ID, *assistant],
    ]


def chat_prompt_text(messages: Sequence[dict[str, Any]], tools: Sequence[Any] = ()) -> str:
    """The Step-Audio chat template over messages whose content is text (audio already
    written as ``<audio_N>`` tokens); tools first, in ``tool_json_schemas``."""
    rendered = ""
    if tools:
        rendered += (
            f"<|BOT|>tool_json_schemas\n{json.dumps(list(tools), ensure_ascii=False)}<|EOT|>"
        )
    for message in messages:
        role = {"user": "human"}.get(message["role"], message["role"])
        content = message.get("content")
        if message.get("tool_calls"):
            calls = [
                {"name": c["function"]["name"], "arguments": c["function"]["arguments"]}
                for c in message["tool_calls"]
            ]
            content = (content or "") + "".join(
                f"<|CALL_START|>function\n{json.dumps(c, ensure_ascii=False)}<|CALL_END|>"
                for c in calls
            )
        if role == "tool":
            role = "function_output"
        rendered += f"<|BOT|>{role}\n{content or ''}<|EOT|>"
    return rendered + "<|BOT|>assistant\n"
