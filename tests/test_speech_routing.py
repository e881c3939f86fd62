"""Which engine speaks a styled request, in-process: an engine that acts styles itself is handed
the SpeechStyle (and reads the Step-Audio prefix from it); a dialect the requested model cannot
speak goes to a configured engine with the dialect pack's fallback voice, or is a 400 naming
what could speak it.

No engine here acts emotions or sings (the GPU Step-Audio TTS engine does, on SGLang), so a
stand-in takes its place at that boundary: it declares that engine's controls, records what it
is given and answers with a short tone. The fallback is the real Piper engine.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, ClassVar

import msgspec
import numpy as np
import pytest
from audio_checks import decode

from stepaudio_api import hookimpl
from stepaudio_api.engines.base import PcmChunk, SynthesisOptions, Synthesizer, VoiceInfo
from stepaudio_api.errors import InvalidRequest
from stepaudio_api.protocol.speech import SpeechRequest
from stepaudio_api.services import Services
from stepaudio_api.serving.speech_style import EMOTIONS, MODES
from stepaudio_api.serving.step_audio_tags import step_audio_prefix
from stepaudio_api.settings import ModelSettings, load_settings

# the embedded engines and the dialect packs; not the other plugins a checkout may have
# installed, so that which engines exist does not depend on the machine
PLUGINS = "stepaudio_api.default_plugins.embedded_engines,dialects"
TONE_SECONDS = 0.1


class StepAudioStandIn(Synthesizer):
    """Stand-in for the Step-Audio TTS engine: its controls, and a short tone per sentence."""

    type = "step-audio-stand-in"
    sample_rate = 22050
    native_speed = True
    emotions = EMOTIONS
    modes = MODES
    languages = ("zh", "yue", "zh-sichuan")
    voices = (VoiceInfo("tingting", "zh"),)
    received: ClassVar[list[tuple[str, SynthesisOptions]]] = []

    def load(self) -> None:
        pass

    async def synthesize(self, text: str, options: SynthesisOptions) -> AsyncIterator[PcmChunk]:
        self.received.append((text, options))
        samples = 0.1 * np.sin(np.arange(int(self.sample_rate * TONE_SECONDS)) / 10)
        yield PcmChunk(samples.astype(np.float32), self.sample_rate)


class StandInPlugin:
    @hookimpl
    def register_engines(self, register: Any) -> None:
        register(StepAudioStandIn)


def _build(tmp_path: Path, stand_in: bool) -> Services:
    settings = load_settings(
        environ={"STEPAUDIO_DATA_DIR": str(tmp_path), "STEPAUDIO_PLUGINS": PLUGINS}
    )
    if stand_in:
        settings = msgspec.structs.replace(
            settings,
            engines={**settings.engines, "stand-in": {"type": StepAudioStandIn.type}},
            models=[*settings.models, ModelSettings(id="step-audio-tts-3b", engine="stand-in")],
        )

    built = Services.build(settings, extra_plugins={"step-audio-stand-in": StandInPlugin()})
    asyncio.run(built.engines.start(only=["stand-in", "piper-joe"]))
    StepAudioStandIn.received.clear()
    return built


@pytest.fixture
def built(tmp_path: Path) -> Iterator[Services]:
    services_ = _build(tmp_path, stand_in=True)
    yield services_
    services_.engines.shutdown()


def _speak(built: Services, **fields: Any) -> bytes:
    fields = {"model": "step-audio-tts-3b", "voice": "tingting", "response_format": "wav",
              "input": "你好。", **fields}  # fmt: skip
    stream = built.speech.create_speech(SpeechRequest(**fields))

    async def collect() -> bytes:
        return b"".join([chunk async for chunk in stream.chunks])

    return asyncio.run(collect())


def test_an_expressive_engine_is_handed_the_style(built: Services) -> None:
    text = "价格12.5元。"
    events = _speak(
        built, input=text, emotion="happy", emotion_intensity=5, dialect="粤语", speed=0.8,
        stream_format="sse", response_format="pcm",
    )  # fmt: skip
    payloads = [
        json.loads(line[6:]) for line in events.decode().splitlines() if line[:6] == "data: "
    ]
    spoken, options = StepAudioStandIn.received[-1]
    assert spoken == "价格十二点五元。"  # the Cantonese pack's normalisation
    assert options.style is not None and options.speed == 0.8  # native speed
    assert step_audio_prefix(options.style) == "(高兴2)(粤语)(慢速1)"
    # it acts the emotion and the speed itself: nothing is stretched or shifted
    pcm = b"".join(base64.b64decode(p["audio"]) for p in payloads if "audio" in p)
    assert abs(len(pcm) / 2 / 24000 - TONE_SECONDS) < 0.01
    assert payloads[-1]["usage"]["input_characters"] == len(text)  # charged what was sent

    _speak(built, instructions="rap this", input="我踏上自由的征途。")
    assert step_audio_prefix(StepAudioStandIn.received[-1][1].style) == "(RAP)"  # type: ignore[arg-type]
    _speak(built, instructions="说广东话，有点撒娇，快一点")
    prefix = step_audio_prefix(StepAudioStandIn.received[-1][1].style)  # type: ignore[arg-type]
    assert prefix == "(撒娇1)(广东话)(快速1)"


def test_singing_is_a_400_on_a_model_that_cannot_naming_one_that_can(built: Services) -> None:
    _speak(built, style="sing")
    assert StepAudioStandIn.received[-1][1].style.mode == "sing"  # type: ignore[union-attr]
    with pytest.raises(InvalidRequest) as caught:
        _speak(built, model="tts-1", voice="alloy", input="Hello.", style="sing")
    assert caught.value.param == "style"
    assert "Models that can: step-audio-tts-3b" in caught.value.message


def test_a_dialect_the_model_cannot_speak_goes_to_the_fallback_voice(built: Services) -> None:
    data = _speak(built, input="It costs $5.", dialect="english")
    assert StepAudioStandIn.received == []  # Piper spoke it, with the English pack's numbers
    assert decode(data, "wav").duration > 0.8


def test_a_dialect_only_another_model_speaks_is_a_400_naming_it(built: Services) -> None:
    with pytest.raises(InvalidRequest) as caught:
        _speak(built, model="tts-1", voice="alloy", input="你好。", instructions="用粤语")
    assert caught.value.param == "dialect" and caught.value.code == "dialect_unsupported"
    assert "Models that can: step-audio-tts-3b" in caught.value.message


def test_controls(built: Services) -> None:
    models = {m.id: m for m in built.models.models}
    controls = built.speech.router.controls(models["step-audio-tts-3b"])
    assert controls["emotions"]["native"] == list(EMOTIONS)
    assert controls["emotions"]["approximated"] == []
    assert controls["modes"] == list(MODES)
    dialects = {d["name"]: d for d in controls["dialects"]}
    assert {n for n, d in dialects.items() if d["native"]} == {
        "mandarin",
        "cantonese",
        "sichuanese",
    }
    assert dialects["english"] == {"name": "english", "display_name": "English", "native": False,
                                   "via": "step-audio-tts", "voice": "joe"}  # fmt: skip
    assert "japanese" not in dialects  # nothing configured here speaks it


def test_with_no_engine_for_a_dialect_the_400_says_what_to_install(tmp_path: Path) -> None:
    plain = _build(tmp_path, stand_in=False)
    try:
        for fields in ({"dialect": "cantonese"}, {"instructions": "说广东话"}):
            with pytest.raises(InvalidRequest) as caught:
                _speak(plain, model="tts-1", voice="alloy", **fields)
            message = caught.value.message
            assert caught.value.param == "dialect"
            assert "cannot speak Cantonese" in message
            assert "install the stepaudio-espeak plugin" in message and "'yue'" in message
            assert "Step-Audio" in message
    finally:
        plain.engines.shutdown()
