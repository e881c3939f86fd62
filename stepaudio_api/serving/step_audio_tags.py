"""A SpeechStyle as the tag prefix Step-Audio-TTS-3B reads, e.g. ``(高兴2)(粤语)(慢速1)``.

What the model reads (stepfun-ai/Step-Audio, tts.py and tts_app.py):
- Speech: ``(emotion)(language or dialect)(speed)text``, each tag optional, in that order
  (tts_app.py's ``tts_common`` and ``tts_clone`` write them so).
- Music: ``(RAP)text`` or ``(哼唱)text`` alone (tts_app.py's ``tts_music``). tts.py recognises
  the mode only when its tag is the text's first parenthesised group
  (``detect_instruction_name``), then switches to the music CosyVoice decoder, the speaker's
  RAP/哼唱 prompt and a system prompt ("用RAP方式将文本内容大声说唱出来" /
  "用哼唱的方式将文本内容大声唱出来", *sing the text out loud by humming*). The model has one
  singing mode, 哼唱 (its "vocal" prompt; the README's "Sing a Chinese song" examples), so
  ``sing`` and ``hum`` both become ``(哼唱)``; ``rap`` becomes ``(RAP)``. The music prompts list
  no other tags, so none is written beside them: the language follows the text, and a speed
  other than normal is left to the engine (or serving's time-stretch).

Intensity 1-5 is spread evenly over an emotion's levels: level = 1 + (intensity - 1) * L // 5
for an emotion with L levels. 高兴 and 生气 have two (intensity 1-3 -> 1, 4-5 -> 2); 悲伤 and
撒娇 have one (every intensity -> 1).

Speed factor to tag, symmetric on a log scale (1.08 and 1.4 each way): within 8% of normal no
tag; up to 1.4x faster 快速1, beyond 快速2; up to 1.4x slower 慢速1, beyond 慢速2.
"""

from __future__ import annotations

from stepaudio_api.serving.speech_style import SpeechStyle

EMOTION_TAGS: dict[str, tuple[str, int]] = {
    # emotion: (tag word, levels the model has)
    "happy": ("高兴", 2),
    "angry": ("生气", 2),
    "sad": ("悲伤", 1),
    "coy": ("撒娇", 1),
}
MODE_TAGS = {"rap": "RAP", "sing": "哼唱", "hum": "哼唱"}
SPEED_STEP, SPEED_FAR = 1.08, 1.4

ALL_TAGS = (
    "高兴1", "高兴2", "生气1", "生气2", "悲伤1", "撒娇1",
    "中文", "英文", "韩语", "日语", "四川话", "粤语", "广东话",
    "RAP", "哼唱",
    "慢速1", "慢速2", "快速1", "快速2",
)  # fmt: skip
"""Every tag Step-Audio-TTS-3B was trained with (its system prompt lists them)."""


def emotion_tag(emotion: str, intensity: int) -> str:
    word, levels = EMOTION_TAGS[emotion]
    return f"{word}{1 + (intensity - 1) * levels // 5}"


def speed_tag(speed: float) -> str | None:
    if speed >= SPEED_FAR:
        return "快速2"
    if speed > SPEED_STEP:
        return "快速1"
    if speed <= 1 / SPEED_FAR:
        return "慢速2"
    if speed < 1 / SPEED_STEP:
        return "慢速1"
    return None


def step_audio_tags(style: SpeechStyle) -> list[str]:
    """The tags, without parentheses, in the order the model reads them."""
    if style.mode != "speak":
        return [MODE_TAGS[style.mode]]
    tags: list[str] = []
    if style.emotion is not None:
        tags.append(emotion_tag(style.emotion, style.intensity))
    if style.dialect is not None:
        tags.append(style.dialect_tag or style.dialect.step_audio_tag)
    if (speed := speed_tag(style.speed)) is not None:
        tags.append(speed)
    return tags


def step_audio_prefix(style: SpeechStyle) -> str:
    """What goes before the text: ``(高兴2)(粤语)(慢速1)``; empty for a plain style."""
    return "".join(f"({tag})" for tag in step_audio_tags(style))
