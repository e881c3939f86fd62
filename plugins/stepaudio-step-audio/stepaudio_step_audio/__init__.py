"""The Step-Audio engines: ``step-audio-tts`` (Step-Audio-TTS-3B) and ``step-audio-chat``
(Step-Audio-Chat), generating on SGLang and hearing and speaking through Step-Audio's codec
(the stepaudio-codec plugin)."""

from __future__ import annotations

from typing import Any

from stepaudio_api import hookimpl


@hookimpl
def register_engines(register: Any) -> None:
    from stepaudio_step_audio.chat_engine import StepAudioChat
    from stepaudio_step_audio.tts_engine import StepAudioTTS

    register(StepAudioTTS)
    register(StepAudioChat)
