"""SpeechStyle: free-text instructions in English and Chinese, explicit fields winning, 400s for
contradictions and unknown values, and the exact Step-Audio-TTS-3B tag prefix of a style."""

from __future__ import annotations

import itertools
import re
import statistics
import time
from typing import Any

import pytest

from stepaudio_api.errors import InvalidRequest
from stepaudio_api.extensions.dialects import Dialect, DialectRegistry
from stepaudio_api.plugins import get_plugin_manager
from stepaudio_api.serving.speech_style import EMOTIONS, MODES, SpeechStyle, StyleResolver
from stepaudio_api.serving.step_audio_tags import ALL_TAGS, step_audio_prefix, step_audio_tags
from stepaudio_api.settings import load_settings


@pytest.fixture(scope="module")
def dialects() -> DialectRegistry:
    """The dialect packs the server would have: every installed plugin's, through the hook."""
    registry = DialectRegistry()
    plugins = get_plugin_manager()
    plugins.register_all(
        "register_dialects", "dialects", registry.register, settings=load_settings(environ={})
    )
    return registry


@pytest.fixture(scope="module")
def resolver(dialects: DialectRegistry) -> StyleResolver:
    return StyleResolver(dialects)


def expected(dialects: DialectRegistry, **fields: Any) -> SpeechStyle:
    if isinstance(fields.get("dialect"), str):
        fields["dialect"] = dialects.dialects[fields["dialect"]]
    return SpeechStyle(**fields)


INSTRUCTIONS: list[tuple[str, dict[str, Any]]] = [
    # English
    ("cheerful and a bit slow, in Cantonese",
     {"emotion": "happy", "intensity": 3, "dialect": "cantonese", "speed": 0.87}),
    ("rap this", {"mode": "rap"}),
    ("Sound happy.", {"emotion": "happy", "intensity": 3}),
    ("a bit happy", {"emotion": "happy", "intensity": 1}),
    ("Very happy!", {"emotion": "happy", "intensity": 4}),
    ("extremely happy and fast", {"emotion": "happy", "intensity": 5, "speed": 1.25}),
    ("slightly sad", {"emotion": "sad", "intensity": 1}),
    ("Sad, and very slowly please", {"emotion": "sad", "intensity": 3, "speed": 0.65}),
    ("heartbroken", {"emotion": "sad", "intensity": 5}),
    ("furious!", {"emotion": "angry", "intensity": 5}),
    ("a little annoyed", {"emotion": "angry", "intensity": 1}),
    ("speak angrily in Mandarin", {"emotion": "angry", "intensity": 3, "dialect": "mandarin"}),
    ("coyly, in Sichuanese", {"emotion": "coy", "intensity": 3, "dialect": "sichuanese"}),
    ("flirty and a bit faster", {"emotion": "coy", "intensity": 3, "speed": 1.15}),
    ("not happy at all", {"emotion": "sad", "intensity": 2}),
    ("Don't be angry, just read it.", {}),
    ("sing it in Japanese", {"mode": "sing", "dialect": "japanese"}),
    ("hum along", {"mode": "hum"}),
    ("excitedly, in English", {"emotion": "happy", "intensity": 4, "dialect": "english"}),
    ("somewhat gloomy, with a Korean voice",
     {"emotion": "sad", "intensity": 2, "dialect": "korean"}),
    ("at 1.5x speed, super cheerful", {"emotion": "happy", "intensity": 5, "speed": 1.5}),
    ("joyful with a Cantonese accent, intensity 2",
     {"emotion": "happy", "intensity": 2, "dialect": "cantonese"}),
    ("Speak quickly", {"speed": 1.25}),
    ("really really slow", {"speed": 0.5}),
    ("in a calm, neutral voice", {}),
    ("Whisper-quiet wrapping paper, trapped", {}),  # no "rap" inside other words
    ("a touch melancholy, slow down a little",
     {"emotion": "sad", "intensity": 1, "speed": 0.8}),
    # Chinese
    ("用四川话，开心一点", {"emotion": "happy", "intensity": 1, "dialect": "sichuanese"}),
    ("用粤语说，非常生气", {"emotion": "angry", "intensity": 5, "dialect": "cantonese"}),
    ("说广东话", {"dialect": "cantonese", "dialect_tag": "广东话"}),
    ("伤心地、慢慢地读", {"emotion": "sad", "intensity": 3, "speed": 0.8}),
    ("特别高兴，快一点", {"emotion": "happy", "intensity": 5, "speed": 1.15}),
    ("有点难过", {"emotion": "sad", "intensity": 1}),
    ("很生气", {"emotion": "angry", "intensity": 4}),
    ("撒娇", {"emotion": "coy", "intensity": 3}),
    ("用英语，开心", {"emotion": "happy", "intensity": 3, "dialect": "english"}),
    ("用日语说", {"dialect": "japanese"}),
    ("用韩语，慢一点", {"dialect": "korean", "speed": 0.87}),
    ("说唱这段", {"mode": "rap"}),
    ("哼唱", {"mode": "hum"}),
    ("唱出来", {"mode": "sing"}),
    ("不高兴", {"emotion": "sad", "intensity": 3}),
    ("不太开心", {"emotion": "sad", "intensity": 2}),
    ("开心极了", {"emotion": "happy", "intensity": 5}),
    ("语速快，兴奋", {"emotion": "happy", "intensity": 4, "speed": 1.25}),
    ("普通话，平静地说", {"dialect": "mandarin"}),
    ("別生氣，用國語", {"dialect": "mandarin"}),
    ("用廣東話，開心", {"emotion": "happy", "intensity": 3, "dialect": "cantonese"}),
    ("很快地说", {"speed": 1.5}),
    ("非常非常慢", {"speed": 0.5}),
    ("快乐地说", {"emotion": "happy", "intensity": 3}),  # 快 of 快乐 is not "fast"
    ("带着哭腔，用四川话", {"emotion": "sad", "intensity": 4, "dialect": "sichuanese"}),
    ("2倍速", {"speed": 2.0}),
    # Step-Audio's own tags, as a client of the original model writes them
    ("(高兴2)(粤语)(慢速1)",
     {"emotion": "happy", "intensity": 5, "dialect": "cantonese", "speed": 0.8}),
    ("(生气1)(四川话)(快速2)",
     {"emotion": "angry", "intensity": 3, "dialect": "sichuanese", "speed": 1.5}),
    ("(RAP)", {"mode": "rap"}),
]  # fmt: skip


def test_the_table_is_large_enough() -> None:
    assert len(INSTRUCTIONS) >= 40
    chinese = [text for text, _ in INSTRUCTIONS if re.search(r"[\u4e00-\u9fff]", text)]
    assert len(chinese) >= 20 and len(INSTRUCTIONS) - len(chinese) >= 20


@pytest.mark.parametrize(("instructions", "fields"), INSTRUCTIONS)
def test_instructions(
    resolver: StyleResolver, dialects: DialectRegistry, instructions: str, fields: dict[str, Any]
) -> None:
    assert resolver.resolve(instructions=instructions) == expected(dialects, **fields)


@pytest.mark.parametrize(
    ("request_fields", "fields"),
    [
        ({"instructions": "very sad, in Cantonese", "emotion": "happy"},
         {"emotion": "happy", "intensity": 3, "dialect": "cantonese"}),
        ({"instructions": "a bit happy", "emotion": "happy"},
         {"emotion": "happy", "intensity": 1}),
        ({"instructions": "very happy", "emotion_intensity": 2},
         {"emotion": "happy", "intensity": 2}),
        ({"instructions": "slowly", "speed": 1.5}, {"speed": 1.5}),
        ({"instructions": "slowly", "speed": 1.0}, {"speed": 1.0}),
        ({"instructions": "in Cantonese", "dialect": "sichuanese"}, {"dialect": "sichuanese"}),
        ({"instructions": "rap this", "style": "speak"}, {}),
        ({"instructions": "happy", "emotion": "neutral"}, {}),
        ({"instructions": "happy and sad", "emotion": "sad"}, {"emotion": "sad", "intensity": 3}),
        ({"emotion": "高兴", "emotion_intensity": 5}, {"emotion": "happy", "intensity": 5}),
        ({"emotion": "Furious"}, {"emotion": "angry", "intensity": 5}),
        ({"dialect": "广东话"}, {"dialect": "cantonese", "dialect_tag": "广东话"}),
        ({"dialect": "yue"}, {"dialect": "cantonese"}),
        ({"dialect": "zh-HK", "style": "Sing"}, {"dialect": "cantonese", "mode": "sing"}),
        ({"speed": 0.5}, {"speed": 0.5}),
        ({}, {}),
    ],
)  # fmt: skip
def test_explicit_fields_win(
    resolver: StyleResolver,
    dialects: DialectRegistry,
    request_fields: dict[str, Any],
    fields: dict[str, Any],
) -> None:
    assert resolver.resolve(**request_fields) == expected(dialects, **fields)


@pytest.mark.parametrize(
    ("request_fields", "param", "words"),
    [
        ({"instructions": "happy and sad"}, "instructions", ["happy and sad"]),
        ({"instructions": "开心又难过"}, "instructions", ["happy and sad"]),
        ({"instructions": "in Cantonese, or rather in Sichuanese"}, "instructions",
         ["cantonese and sichuanese"]),
        ({"instructions": "用粤语还是用四川话"}, "instructions", ["cantonese and sichuanese"]),
        ({"instructions": "slowly but fast"}, "instructions", ["slower and faster"]),
        ({"instructions": "sing it, no, rap it"}, "instructions", ["rap and sing"]),
        ({"instructions": "happy, intensity 9"}, "instructions", ["1 to 5"]),
        ({"instructions": "at 10x speed"}, "instructions", ["0.25 to 4.0"]),
        ({"emotion": "bored"}, "emotion", ["happy", "angry", "sad", "coy", "neutral"]),
        ({"dialect": "klingon"}, "dialect", ["cantonese", "粤语", "sichuanese", "mandarin"]),
        ({"style": "yodel"}, "style", ["speak, sing, rap, hum"]),
        ({"emotion_intensity": 3}, "emotion_intensity", ["needs an emotion"]),
        ({"emotion": "neutral", "emotion_intensity": 3}, "emotion_intensity", ["emotion"]),
        ({"style": "rap", "emotion": "happy"}, "style", ["rap", "happy"]),
        ({"instructions": "rap this cheerfully"}, "emotion", ["rap", "happy"]),
    ],
)  # fmt: skip
def test_contradictions_and_unknown_values_are_400s_that_say_what_is_accepted(
    resolver: StyleResolver, request_fields: dict[str, Any], param: str, words: list[str]
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        resolver.resolve(**request_fields)
    error = caught.value
    assert error.status == 400 and error.param == param
    for word in words:
        assert word in error.message, error.message


# --- the Step-Audio-TTS-3B mapping ----------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "prefix"),
    [
        ({}, ""),
        *[({"emotion": "happy", "intensity": i}, f"(高兴{t})")
          for i, t in zip(range(1, 6), "11122", strict=True)],
        *[({"emotion": "angry", "intensity": i}, f"(生气{t})")
          for i, t in zip(range(1, 6), "11122", strict=True)],
        *[({"emotion": "sad", "intensity": i}, "(悲伤1)") for i in range(1, 6)],
        *[({"emotion": "coy", "intensity": i}, "(撒娇1)") for i in range(1, 6)],
        ({"dialect": "mandarin"}, "(中文)"),
        ({"dialect": "english"}, "(英文)"),
        ({"dialect": "korean"}, "(韩语)"),
        ({"dialect": "japanese"}, "(日语)"),
        ({"dialect": "sichuanese"}, "(四川话)"),
        ({"dialect": "cantonese"}, "(粤语)"),
        ({"dialect": "cantonese", "dialect_tag": "广东话"}, "(广东话)"),
        ({"speed": 0.25}, "(慢速2)"),
        ({"speed": 0.7}, "(慢速2)"),
        ({"speed": 0.72}, "(慢速1)"),
        ({"speed": 0.87}, "(慢速1)"),
        ({"speed": 0.93}, ""),
        ({"speed": 1.08}, ""),
        ({"speed": 1.1}, "(快速1)"),
        ({"speed": 1.39}, "(快速1)"),
        ({"speed": 1.4}, "(快速2)"),
        ({"speed": 4.0}, "(快速2)"),
        ({"mode": "rap"}, "(RAP)"),
        ({"mode": "sing"}, "(哼唱)"),
        ({"mode": "hum"}, "(哼唱)"),
        ({"mode": "rap", "dialect": "cantonese", "speed": 1.5}, "(RAP)"),
        ({"emotion": "happy", "intensity": 4, "dialect": "cantonese", "speed": 0.8},
         "(高兴2)(粤语)(慢速1)"),
        ({"emotion": "angry", "intensity": 1, "dialect": "sichuanese", "speed": 1.2},
         "(生气1)(四川话)(快速1)"),
        ({"emotion": "coy", "speed": 0.6}, "(撒娇1)(慢速2)"),
    ],
)  # fmt: skip
def test_step_audio_prefix(dialects: DialectRegistry, fields: dict[str, Any], prefix: str) -> None:
    assert step_audio_prefix(expected(dialects, **fields)) == prefix


def test_every_step_audio_tag_is_reachable(dialects: DialectRegistry) -> None:
    reached: set[str] = set()
    choices = [None, *dialects.dialects.values()]
    for emotion, intensity, dialect, speed, mode in itertools.product(
        [None, *EMOTIONS], range(1, 6), choices, [0.5, 0.8, 1.0, 1.2, 2.0], MODES
    ):
        if emotion is not None and mode != "speak":
            continue
        style = SpeechStyle(emotion, intensity, dialect, speed, mode)  # type: ignore[arg-type]
        reached.update(step_audio_tags(style))
    reached.update(step_audio_tags(SpeechStyle(dialect=choices[2], dialect_tag="广东话")))
    assert reached == set(ALL_TAGS)


def test_a_music_tag_comes_first_as_step_audio_detects_it(dialects: DialectRegistry) -> None:
    # tts.py's detect_instruction_name: only the first parenthesised group selects RAP/哼唱
    detect = re.compile(r"^([（\(][^\(\)()]*[）\)]).*$", re.DOTALL)
    for mode, tag in (("rap", "RAP"), ("sing", "哼唱"), ("hum", "哼唱")):
        text = step_audio_prefix(SpeechStyle(mode=mode, speed=0.5)) + "你好"  # type: ignore[arg-type]
        match = detect.match(text)
        assert match is not None and match.group(1).strip("()（）") == tag


def test_instructions_to_prefix(resolver: StyleResolver) -> None:
    style = resolver.resolve(instructions="cheerful and a bit slow, in Cantonese")
    assert step_audio_prefix(style) == "(高兴1)(粤语)(慢速1)"
    style = resolver.resolve(instructions="用四川话，非常开心，快一点")
    assert step_audio_prefix(style) == "(高兴2)(四川话)(快速1)"
    assert step_audio_prefix(resolver.resolve(instructions="说广东话")) == "(广东话)"


def test_parsing_and_resolution_are_fast(resolver: StyleResolver) -> None:
    """The budget is 0.2 ms a request (bench/style.py measures it); this guards the order of
    magnitude on a noisy machine."""
    timings = []
    for text, _fields in INSTRUCTIONS * 20:
        started = time.perf_counter()
        resolver.resolve(instructions=text, emotion=None)
        timings.append(time.perf_counter() - started)
    assert statistics.median(timings) < 0.0002


def test_a_third_party_dialect_is_read_from_instructions(dialects: DialectRegistry) -> None:
    registry = DialectRegistry()
    for dialect in dialects.dialects.values():
        registry.register(dialect)
    resolver = StyleResolver(registry)
    assert resolver.resolve(instructions="用上海话").dialect is None
    registry.register(
        Dialect("shanghainese", language="wuu", step_audio_tag="中文",
                display_name="Shanghainese", aliases=("上海话", "wuu"),
                selectors=("in Shanghainese", "用上海话"))
    )  # fmt: skip
    style = resolver.resolve(instructions="用上海话，开心")
    assert style == SpeechStyle("happy", 3, registry.dialects["shanghainese"])
    assert resolver.resolve(dialect="WUU").dialect is registry.dialects["shanghainese"]
    assert step_audio_prefix(style) == "(高兴1)(中文)"
