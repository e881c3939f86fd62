"""Speaking a cloned voice: the engine is handed the stored reference clip and its transcript.

No engine here clones (the GPU Step-Audio TTS engine does, on SGLang), so a stand-in takes its
place at that boundary: it records what it is given and answers with the reference clip itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

import msgspec
import numpy as np
import pytest
from audio_checks import decode

from stepaudio_api import hookimpl, services
from stepaudio_api.engines.base import PcmChunk, SynthesisOptions, Synthesizer, VoiceInfo
from stepaudio_api.errors import InvalidRequest
from stepaudio_api.plugins import get_plugin_manager
from stepaudio_api.protocol.speech import SpeechRequest, VoiceId
from stepaudio_api.services import Services
from stepaudio_api.settings import ModelSettings, load_settings
from stepaudio_api.store.migrate import upgrade_database

TINGTING = "那等我们到海洋馆之后，给妈妈买个礼物，好不好呀？"


class CloningStandIn(Synthesizer):
    """Stand-in for the Step-Audio TTS engine: it speaks the reference clip back."""

    type = "cloning-stand-in"
    clones_voices = True
    sample_rate = 24000
    voices = (VoiceInfo("stand-in", "zh"),)
    received: ClassVar[list[tuple[str, SynthesisOptions]]] = []

    def load(self) -> None:
        pass

    async def synthesize(self, text: str, options: SynthesisOptions) -> AsyncIterator[PcmChunk]:
        self.received.append((text, options))
        reference = options.reference
        assert reference is not None and reference.sample_rate == self.sample_rate
        yield PcmChunk(reference.samples, reference.sample_rate)


class StandInPlugin:
    @hookimpl
    def register_engines(self, register: Any) -> None:
        register(CloningStandIn)


async def _speak(built: Services, model: str, voice: str | VoiceId) -> bytes:
    request = SpeechRequest(model=model, input="你好。", voice=voice, response_format="wav")
    stream = built.speech.create_speech(request)
    return b"".join([chunk async for chunk in stream.chunks])


def test_a_cloning_engine_gets_the_reference_and_transcript(
    database_url: str, tmp_path: Path, testdata: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upgrade_database(database_url)
    settings = load_settings(
        environ={"STEPAUDIO_DATABASE_URL": database_url, "STEPAUDIO_DATA_DIR": str(tmp_path)}
    )
    settings = msgspec.structs.replace(
        settings,
        engines={**settings.engines, "stand-in": {"type": "cloning-stand-in"}},
        models=[*settings.models, ModelSettings(id="step-audio-tts-3b", engine="stand-in")],
    )

    def plugin_manager(only: list[str] | None = None, *args: Any) -> Any:
        pm = get_plugin_manager(only, *args)
        pm.manager.register(StandInPlugin(), name="cloning-stand-in")
        return pm

    monkeypatch.setattr(services, "get_plugin_manager", plugin_manager)
    CloningStandIn.received.clear()

    async def scenario() -> None:
        built = Services.build(settings)
        try:
            await built.engines.start(only=["stand-in", "piper-joe"])
            audio = (testdata / "zh_tingting_prompt.wav").read_bytes()
            profile = await built.voices.create_profile(audio, "tingting", TINGTING)

            listed = {v.id: v for v in await built.voices.list_voices()}
            assert listed[profile.id].models == ["step-audio-tts-3b"]
            assert listed["stand-in"].models == ["step-audio-tts-3b"]
            assert listed["joe"].models == ["step-audio-tts"]

            for voice in (VoiceId(id=profile.id), "tingting"):
                spoken = decode(await _speak(built, "step-audio-tts-3b", voice), "wav")
                assert abs(spoken.duration - profile.duration_seconds) < 0.01
            text, options = CloningStandIn.received[-1]
            assert text == "你好。" and options.voice == profile.id
            assert options.reference is not None
            assert options.reference.transcript == TINGTING
            assert abs(len(options.reference.samples) / 24000 - profile.duration_seconds) < 0.001
            assert float(np.max(np.abs(options.reference.samples))) > 0.1

            with pytest.raises(InvalidRequest) as caught:
                await _speak(built, "tts-1", "tingting")
            assert caught.value.code == "voice_cloning_unsupported"
            assert "Models that can: step-audio-tts-3b" in caught.value.message
        finally:
            built.engines.shutdown()
            await built.database.dispose()

    asyncio.run(scenario())
