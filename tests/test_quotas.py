"""Quotas hold under concurrency, are refused with 429 insufficient_quota before engine work,
and the usage records match exactly what was served."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
from audio_checks import decode
from conftest import ServerProcess
from keys import admin_get, admin_post, sdk
from voice_helpers import new_consent

TEXT = "Quota test sentence number {:02d}."  # every input is exactly this long


def test_parallel_requests_cannot_overdraw_a_quota(
    auth_server: ServerProcess, admin_key: str
) -> None:
    size = len(TEXT.format(0))
    created = admin_post(auth_server, admin_key, "/admin/keys",
                         {"name": "five-requests", "quota_characters": 5 * size})  # fmt: skip
    client = sdk(auth_server, created["value"])

    def attempt(n: int) -> tuple[str, object]:
        try:
            response = client.audio.speech.with_raw_response.create(
                model="tts-1", voice="alloy", input=TEXT.format(n), response_format="pcm"
            )
            return "ok", (response.headers["x-request-id"], response.content)
        except openai.RateLimitError as refused:
            return "refused", refused

    with ThreadPoolExecutor(max_workers=24) as pool:
        outcomes = list(pool.map(attempt, range(24)))
    served = [value for kind, value in outcomes if kind == "ok"]
    refused = [value for kind, value in outcomes if kind == "refused"]
    assert len(served) == 5 and len(refused) == 19
    for error in refused:
        assert isinstance(error, openai.RateLimitError)
        assert error.code == "insufficient_quota"
        assert error.type == "insufficient_quota"  # type: ignore[attr-defined]
        assert int(error.response.headers["retry-after"]) > 0
        assert "five-requests" in error.message

    records = admin_get(auth_server, admin_key, "/admin/usage/records",
                        key_id=created["id"])["data"]  # fmt: skip
    assert len(records) == 5  # refusals are not metered: no engine work was done
    by_request = {r["request_id"]: r for r in records}
    for request_id, audio in served:  # type: ignore[misc]
        record = by_request[request_id]
        assert record["status"] == "completed"
        assert record["input_characters"] == size
        assert record["audio_seconds_out"] == pytest.approx(decode(audio, "pcm").duration,
                                                            abs=0.02)  # fmt: skip
    key = admin_get(auth_server, admin_key, f"/admin/keys/{created['id']}")
    assert key["usage"]["characters"] == 5 * size


def test_transcription_is_charged_by_audio_seconds(
    auth_server: ServerProcess, admin_key: str, testdata: object
) -> None:
    created = admin_post(auth_server, admin_key, "/admin/keys",
                         {"name": "fifteen-seconds", "quota_audio_seconds": 15})  # fmt: skip
    client = sdk(auth_server, created["value"])
    jfk = testdata / "en_jfk.flac"  # type: ignore[operator]
    first = client.audio.transcriptions.create(model="step-audio-asr", file=jfk.open("rb"))
    assert "country" in first.text
    with pytest.raises(openai.RateLimitError) as caught:
        client.audio.transcriptions.create(model="step-audio-asr", file=jfk.open("rb"))
    assert "15 seconds of audio a month" in caught.value.message
    # a speech request needs characters, which this key may use without limit
    assert client.audio.speech.create(model="tts-1", voice="alloy", input="Fine.").read()
    records = admin_get(auth_server, admin_key, "/admin/usage/records",
                        key_id=created["id"])["data"]  # fmt: skip
    transcriptions = [r for r in records if r["capability"] == "transcription"]
    assert len(transcriptions) == 1
    assert transcriptions[0]["audio_seconds_in"] == pytest.approx(11.0, abs=0.1)
    key = admin_get(auth_server, admin_key, f"/admin/keys/{created['id']}")
    assert key["usage"]["audio_seconds"] == pytest.approx(11.0, abs=0.1)


def test_a_refused_request_is_not_charged(auth_server: ServerProcess, admin_key: str) -> None:
    created = admin_post(auth_server, admin_key, "/admin/keys",
                         {"name": "refunds", "quota_characters": 20})  # fmt: skip
    client = sdk(auth_server, created["value"])
    with pytest.raises(openai.BadRequestError):
        client.audio.speech.create(model="tts-1", voice="nobody", input="Twenty characters!!")
    assert client.audio.speech.create(model="tts-1", voice="alloy",
                                      input="Twenty characters!!").read()  # fmt: skip
    key = admin_get(auth_server, admin_key, f"/admin/keys/{created['id']}")
    assert key["usage"]["characters"] == len("Twenty characters!!")


def test_writing_a_voice_transcript_is_metered_and_charged(
    auth_server: ServerProcess, admin_key: str, testdata: object
) -> None:
    """A voice uploaded without its transcript is transcribed: that needs audio quota."""
    created = admin_post(auth_server, admin_key, "/admin/keys",
                         {"name": "voice-maker", "quota_audio_seconds": 5})  # fmt: skip
    client = sdk(auth_server, created["value"])
    jfk = testdata / "en_jfk.flac"  # type: ignore[operator]
    consent = new_consent(client, jfk.parent)  # recording a consent is not metered
    with pytest.raises(openai.RateLimitError):  # about 10.5 s to transcribe, quota 5 s
        client.audio.voices.create(name="jfk-quota", audio_sample=jfk.open("rb"), consent=consent)
    voice = client.audio.voices.create(
        name="jfk-quota", audio_sample=jfk.open("rb"), consent=consent,
        extra_body={"transcript": "And so my fellow Americans."},
    )  # fmt: skip
    assert voice.name == "jfk-quota"
    records = admin_get(auth_server, admin_key, "/admin/usage/records",
                        key_id=created["id"])["data"]  # fmt: skip
    assert [(r["capability"], r["status"]) for r in records] == [("voice_profile", "completed")]
    assert records[0]["audio_seconds_in"] == pytest.approx(11.0, abs=0.1)
    key = admin_get(auth_server, admin_key, f"/admin/keys/{created['id']}")
    assert key["usage"]["audio_seconds"] == 0  # a given transcript costs no recognition
