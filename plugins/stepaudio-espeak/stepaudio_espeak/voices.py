"""The espeak-ng voices the engine offers: a curated set, each with its language code."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from stepaudio_api.engines import VoiceInfo
from stepaudio_espeak.japanese import to_kana
from stepaudio_espeak.mandarin import to_pinyin


def _unchanged(text: str) -> str:
    return text


@dataclass(frozen=True, slots=True)
class EspeakVoice:
    name: str
    """What a request's ``voice`` says: espeak-ng's own language name, "cmn" for Mandarin."""
    espeak: str
    """espeak-ng's ``-v`` argument: a voice, optionally ``+variant``."""
    language: str
    """BCP 47."""
    description: str
    gender: str = "male"
    prepare: Callable[[str], str] = _unchanged
    """Text as espeak-ng should get it."""

    @property
    def espeak_voice(self) -> str:
        return self.espeak.split("+")[0]

    def info(self) -> VoiceInfo:
        return VoiceInfo(self.name, self.language, self.gender, self.description)


VOICES: tuple[EspeakVoice, ...] = (
    EspeakVoice("yue", "yue", "yue", "Cantonese (espeak-ng, reads Hanzi)"),
    # The female variant f3 is recognised best of those tried (README.md, "Why pinyin").
    EspeakVoice(
        "cmn",
        "cmn-latn-pinyin+f3",
        "zh",
        "Mandarin Chinese (espeak-ng, Hanzi read as pinyin with tone numbers)",
        gender="female",
        prepare=to_pinyin,
    ),
    EspeakVoice("en-us", "en-us", "en-US", "English, American (espeak-ng)"),
    EspeakVoice("en-gb", "en-gb", "en-GB", "English, British (espeak-ng)"),
    EspeakVoice(
        "ja",
        "ja",
        "ja",
        "Japanese (espeak-ng, kanji read as kana by MeCab with UniDic)",
        prepare=to_kana,
    ),
    EspeakVoice("ko", "ko", "ko", "Korean (espeak-ng)"),
    EspeakVoice("fr", "fr-fr", "fr-FR", "French (espeak-ng)"),
    EspeakVoice("de", "de", "de", "German (espeak-ng)"),
    EspeakVoice("es", "es", "es-ES", "Spanish, Spain (espeak-ng)"),
    EspeakVoice("it", "it", "it", "Italian (espeak-ng)"),
    EspeakVoice("pt", "pt", "pt-PT", "Portuguese, Portugal (espeak-ng)"),
    EspeakVoice("pt-br", "pt-br", "pt-BR", "Portuguese, Brazil (espeak-ng)"),
    EspeakVoice("ru", "ru", "ru", "Russian (espeak-ng)"),
    EspeakVoice("uk", "uk", "uk", "Ukrainian (espeak-ng)"),
    EspeakVoice("pl", "pl", "pl", "Polish (espeak-ng)"),
    EspeakVoice("nl", "nl", "nl", "Dutch (espeak-ng)"),
    EspeakVoice("sv", "sv", "sv", "Swedish (espeak-ng)"),
    EspeakVoice("tr", "tr", "tr", "Turkish (espeak-ng)"),
    EspeakVoice("el", "el", "el", "Greek (espeak-ng)"),
    EspeakVoice("ar", "ar", "ar", "Arabic (espeak-ng)"),
    EspeakVoice("hi", "hi", "hi", "Hindi (espeak-ng)"),
    EspeakVoice("vi", "vi", "vi", "Vietnamese, Northern (espeak-ng)"),
    EspeakVoice("id", "id", "id", "Indonesian (espeak-ng)"),
)
