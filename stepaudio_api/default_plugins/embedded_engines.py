"""Registers the engines built in: Piper for speech, faster-whisper for recognition, the
diarizing recognizer (all embedded, CPU) and ``openai-compatible`` for a chat model reached
over HTTP."""

from typing import Any

from stepaudio_api import hookimpl
from stepaudio_api.engines.diarizing_recognizer import DiarizingRecognizer
from stepaudio_api.engines.faster_whisper_recognizer import FasterWhisperRecognizer
from stepaudio_api.engines.piper_synthesizer import PiperSynthesizer
from stepaudio_api.engines.upstream_chat import UpstreamChatEngine


@hookimpl(trylast=True)
def register_engines(register: Any) -> None:
    register(PiperSynthesizer)
    register(FasterWhisperRecognizer)
    register(DiarizingRecognizer)
    register(UpstreamChatEngine)
