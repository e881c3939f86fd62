"""Expressive speech through the running server and the openai SDK: emotions the embedded
engine approximates are measurable (median F0 by Praat's pitch tracker, duration, energy), and
what it cannot do is a 400 that says who can. /v1/models shows each model's controls."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import openai
import parselmouth
import pytest
from audio_checks import decode

SENTENCE = "The weather today is bright and warm in the park."
CONDITIONS: dict[str, dict[str, Any]] = {
    "neutral": {},
    **{f"happy{i}": {"emotion": "happy", "emotion_intensity": i} for i in (1, 3, 5)},
    **{f"sad{i}": {"emotion": "sad", "emotion_intensity": i} for i in (1, 3, 5)},
    "angry5": {"emotion": "angry", "emotion_intensity": 5},
}


@dataclass
class Measured:
    f0: float
    """median F0 of the voiced frames, Hz"""
    duration: float
    rms: float


def measure(data: bytes) -> Measured:
    audio = decode(data, "wav")
    samples = audio.samples.astype(np.float64)  # in [-1, 1]
    pitch = parselmouth.Sound(samples, audio.sample_rate).to_pitch(
        pitch_floor=50.0, pitch_ceiling=400.0
    )
    frequencies = pitch.selected_array["frequency"]
    voiced = frequencies[frequencies > 0]
    return Measured(float(np.median(voiced)), audio.duration, float(np.sqrt(np.mean(samples**2))))


def speak(client: openai.OpenAI, **extra: Any) -> bytes:
    return client.audio.speech.create(
        model="tts-1",
        voice="alloy",
        input=SENTENCE,
        response_format="wav",
        extra_body=extra or None,
    ).read()


def measured(client: openai.OpenAI, runs: int, **extra: Any) -> Measured:
    """Piper samples its durations and pitch a little differently each time: medians of runs."""
    takes = [measure(speak(client, **extra)) for _ in range(runs)]
    return Measured(
        statistics.median(t.f0 for t in takes),
        statistics.median(t.duration for t in takes),
        statistics.median(t.rms for t in takes),
    )


def test_happy_is_higher_and_faster_sad_lower_and_slower(client: openai.OpenAI) -> None:
    neutral = measured(client, 1)
    happy = measured(client, 1, emotion="happy", emotion_intensity=5)
    sad = measured(client, 1, instructions="very sad", emotion_intensity=5)
    assert happy.f0 > neutral.f0 * 1.08 and happy.duration < neutral.duration * 0.92
    assert sad.f0 < neutral.f0 / 1.08 and sad.duration > neutral.duration * 1.08


@pytest.mark.slow
def test_prosody_is_monotonic_in_intensity(client: openai.OpenAI) -> None:
    table = {name: measured(client, 3, **extra) for name, extra in CONDITIONS.items()}
    print("\ncondition  median F0 (Hz)  duration (s)  RMS")
    for name, m in table.items():
        print(f"{name:9}  {m.f0:14.1f}  {m.duration:12.3f}  {m.rms:.4f}")
    f0 = {name: m.f0 for name, m in table.items()}
    seconds = {name: m.duration for name, m in table.items()}
    rising = ["sad5", "sad3", "sad1", "neutral", "happy1", "happy3", "happy5"]
    assert [f0[n] for n in rising] == sorted(f0[n] for n in rising), f0
    assert [seconds[n] for n in rising] == sorted((seconds[n] for n in rising), reverse=True)
    angry, neutral = table["angry5"], table["neutral"]
    assert angry.f0 > neutral.f0 and angry.duration < neutral.duration
    assert angry.rms > neutral.rms * 1.2  # louder: more than +1.6 dB


def test_instructions_select_the_same_controls(client: openai.OpenAI) -> None:
    neutral = measure(speak(client))
    cheerful = measure(speak(client, instructions="extremely cheerful"))
    assert cheerful.f0 > neutral.f0 * 1.08
    slowly = measure(speak(client, instructions="very slowly"))  # 0.65x
    assert slowly.duration > neutral.duration * 1.3
    assert abs(slowly.f0 / neutral.f0 - 1) < 0.05  # speed keeps the pitch
    # OpenAI's speed field wins over the instructions' words
    fast = measure(speak(client, instructions="very slowly", speed=2.0))
    assert fast.duration < neutral.duration * 0.65


def test_english_dialect_is_spoken_by_the_embedded_engine(client: openai.OpenAI) -> None:
    # numbers are spelled out by the English pack before Piper reads them
    for extra in ({"dialect": "english"}, {"instructions": "in English, a bit happy"}):
        data = client.audio.speech.create(
            model="tts-1", voice="alloy", input="It costs $12.50 in 2024.",
            response_format="wav", extra_body=extra,
        ).read()  # fmt: skip
        assert decode(data, "wav").duration > 1.0


def _error(client: openai.OpenAI, **extra: Any) -> dict[str, Any]:
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.speech.create(
            model="tts-1", voice="alloy", input="Hello.", extra_body=extra
        ).read()
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["type"] == "invalid_request_error"
    return body


def test_singing_on_an_engine_that_only_speaks_is_a_400_naming_who_can(
    client: openai.OpenAI,
) -> None:
    for extra in ({"style": "sing"}, {"instructions": "rap this"}, {"style": "hum"}):
        body = _error(client, **extra)
        assert body["param"] == "style" and body["code"] == "style_unsupported"
        assert "No model configured on this server can" in body["message"]
        assert "Step-Audio" in body["message"]


@pytest.mark.parametrize(
    ("extra", "param", "words"),
    [
        ({"dialect": "klingon"}, "dialect", ["klingon", "cantonese", "粤语"]),
        ({"emotion": "bored"}, "emotion", ["bored", "happy, angry, sad, coy"]),
        ({"style": "yodel"}, "style", ["yodel", "speak, sing, rap, hum"]),
        ({"instructions": "happy and sad"}, "instructions", ["happy and sad"]),
        ({"instructions": "用粤语，不对，用四川话"}, "instructions", ["cantonese and sichuanese"]),
        ({"emotion_intensity": 6, "emotion": "happy"}, "emotion_intensity", ["5"]),
        ({"emotion_intensity": 2}, "emotion_intensity", ["needs an emotion"]),
    ],
)
def test_unknown_and_contradictory_controls_are_400s(
    client: openai.OpenAI, extra: dict[str, Any], param: str, words: list[str]
) -> None:
    body = _error(client, **extra)
    assert body["param"] == param
    for word in words:
        assert word in body["message"], body["message"]


def test_models_show_their_controls(server: Any) -> None:
    models = httpx.get(f"{server.base_url}/v1/models").json()["data"]
    speech = {
        m["id"]: m["capabilities"] for m in models if m["capabilities"]["capability"] == "speech"
    }
    controls = speech["tts-1"]["controls"]
    assert controls["emotions"]["names"] == ["happy", "angry", "sad", "coy"]
    assert controls["emotions"]["intensity"] == {"min": 1, "max": 5}
    assert controls["emotions"]["approximated"] == ["happy", "angry", "sad", "coy"]
    assert controls["modes"] == ["speak"]
    assert controls["cloning"] is False
    dialects = {d["name"]: d for d in controls["dialects"]}
    assert dialects["english"]["native"] is True
    # every other dialect listed is spoken through a configured model that has its voice
    for name, entry in dialects.items():
        if not entry["native"]:
            assert entry["via"] in speech, (name, entry)
    assert speech["tts-1"]["modes"] == ["speak"]
    assert speech["tts-1"]["native_emotions"] == []
