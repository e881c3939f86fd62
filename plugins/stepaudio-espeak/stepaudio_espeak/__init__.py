"""stepaudio-espeak: the espeak-ng engine for stepaudio-api (Cantonese, Mandarin through pinyin,
English and 18 more languages), through the Debian package espeak-ng."""

from typing import Any

from stepaudio_api import hookimpl


@hookimpl
def register_engines(register: Any) -> None:
    from stepaudio_espeak.synthesizer import EspeakSynthesizer

    register(EspeakSynthesizer)
