"""Registers the embedded CPU engines: Piper for speech, faster-whisper for recognition."""

from typing import Any

from stepaudio_api import hookimpl
from stepaudio_api.engines.faster_whisper_recognizer import FasterWhisperRecognizer
from stepaudio_api.engines.piper_synthesizer import PiperSynthesizer


@hookimpl(trylast=True)
def register_engines(register: Any) -> None:
    register(PiperSynthesizer)
    register(FasterWhisperRecognizer)
