"""Cantonese, Mandarin and Sichuanese through the running server, spoken by the espeak-ng engine
(the stepaudio-espeak plugin) as the dialect packs' fallback voice for a model that cannot.
It does not skip: without an espeak-ng model (the plugin installed by install.sh) it fails,
saying so.
"""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest
from audio_checks import decode


@pytest.fixture(scope="module")
def speech_models(server: Any) -> dict[str, dict[str, Any]]:
    models = httpx.get(f"{server.base_url}/v1/models").json()["data"]
    return {
        m["id"]: m["capabilities"]
        for m in models
        if m["capabilities"]["capability"] == "speech" and m.get("alias_of") is None
    }


def _espeak_models(speech_models: dict[str, dict[str, Any]]) -> list[str]:
    found = [i for i, c in speech_models.items() if c["engine_type"] == "espeak-ng"]
    assert found, f"no espeak-ng model is configured: {sorted(speech_models)}"
    return found


@pytest.mark.parametrize(
    ("extra", "text", "voice"),
    [
        ({"dialect": "cantonese"}, "你好，今日天气好好。", "yue"),
        ({"dialect": "粤语", "emotion": "happy"}, "多谢你，我好开心。", "yue"),
        ({"instructions": "用粤语，慢一点"}, "价格系12.5元。", "yue"),
        ({"dialect": "mandarin"}, "你好，今天天气很好。", "cmn"),
        ({"instructions": "用四川话，开心一点"}, "今天是2024年3月5日。", "cmn"),
    ],
)
def test_a_dialect_piper_cannot_speak_is_spoken_by_espeak(
    client: openai.OpenAI,
    speech_models: dict[str, dict[str, Any]],
    extra: dict[str, Any],
    text: str,
    voice: str,
) -> None:
    espeak = _espeak_models(speech_models)
    controls = speech_models["step-audio-tts"]["controls"]
    via = {d["name"]: d for d in controls["dialects"]}
    assert via["cantonese"]["via"] in espeak and via["cantonese"]["voice"] == "yue"
    data = client.audio.speech.create(
        model="tts-1", voice="alloy", input=text, response_format="wav", extra_body=extra
    ).read()
    audio = decode(data, "wav")
    assert audio.duration > 0.5 and float(abs(audio.samples).max()) > 0


def test_an_espeak_model_asked_directly_takes_the_dialects_voice(
    client: openai.OpenAI, speech_models: dict[str, dict[str, Any]]
) -> None:
    model = _espeak_models(speech_models)[0]
    voices = speech_models[model]["voices"]
    assert "yue" in voices and "cmn" in voices
    data = client.audio.speech.create(
        model=model, voice=voices[0], input="你好。", response_format="wav",
        extra_body={"dialect": "yue"},
    ).read()  # fmt: skip
    assert decode(data, "wav").duration > 0.3
