"""Usage metering: one record per request, totals by key/model/capability/day (JSON and CSV),
the request id that ties a response to its record, and Prometheus metrics."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time

import httpx
import openai
import pytest
from conftest import ServerProcess
from keys import admin, admin_get, admin_post, sdk
from prometheus_client.parser import text_string_to_metric_families


@pytest.fixture(scope="module")
def metered_key(auth_server: ServerProcess, admin_key: str) -> dict[str, str]:
    """A key that made two speech requests and one transcription."""
    created = admin_post(auth_server, admin_key, "/admin/keys", {"name": "metered"})
    client = sdk(auth_server, created["value"])
    ids = []
    for text in ("One two three.", "Four five six seven."):
        response = client.audio.speech.with_raw_response.create(
            model="tts-1", voice="alloy", input=text, response_format="wav"
        )
        assert len(response.content) > 1000
        ids.append(response.headers["x-request-id"])
    audio = client.audio.speech.create(model="tts-1", voice="alloy", input="Good morning.").read()
    text = client.audio.transcriptions.create(model="step-audio-asr", file=("a.mp3", audio)).text
    assert "morning" in text.lower()
    return {"id": created["id"], "speech_request": ids[0]}


def test_each_response_names_its_one_usage_record(
    auth_server: ServerProcess, admin_key: str, metered_key: dict[str, str]
) -> None:
    records = admin_get(auth_server, admin_key, "/admin/usage/records",
                        request_id=metered_key["speech_request"])["data"]  # fmt: skip
    assert len(records) == 1
    record = records[0]
    assert record["key_id"] == metered_key["id"]
    assert (record["model"], record["capability"], record["status"]) == (
        "step-audio-tts", "speech", "completed",
    )  # fmt: skip
    assert record["input_characters"] == len("One two three.")
    assert record["input_tokens"] == len("One two three.")
    assert 0.5 < record["audio_seconds_out"] < 5
    assert record["output_tokens"] == pytest.approx(record["audio_seconds_out"] * 25, abs=1)
    assert record["latency_ms"] > 0


def test_usage_totals_by_key_model_capability_and_day(
    auth_server: ServerProcess, admin_key: str, metered_key: dict[str, str]
) -> None:
    totals = admin_get(auth_server, admin_key, "/admin/usage", key_id=metered_key["id"])
    assert totals["group_by"] == ["key", "model", "capability", "day"]
    rows = {row["capability"]: row for row in totals["data"]}
    assert set(rows) == {"speech", "transcription"}
    today = dt.datetime.now(dt.UTC).date().isoformat()
    speech = rows["speech"]
    assert speech["key_name"] == "metered" and speech["day"] == today
    assert speech["requests"] == speech["completed_requests"] == 3
    assert speech["input_characters"] == len("One two three.Four five six seven.Good morning.")
    transcription = rows["transcription"]
    assert transcription["model"] == "step-audio-asr" and transcription["requests"] == 1
    assert 0.5 < transcription["audio_seconds_in"] < 5
    by_capability = admin_get(auth_server, admin_key, "/admin/usage",
                              group_by="capability", key_id=metered_key["id"])  # fmt: skip
    assert [row["capability"] for row in by_capability["data"]] == ["speech", "transcription"]
    assert set(by_capability["data"][0]) >= {"requests", "audio_seconds_out"}
    assert "model" not in by_capability["data"][0]
    tomorrow = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)).isoformat()
    later = admin_get(auth_server, admin_key, "/admin/usage", start=tomorrow)
    assert later["data"] == []


def test_usage_exports_as_csv(
    auth_server: ServerProcess, admin_key: str, metered_key: dict[str, str]
) -> None:
    response = httpx.get(
        f"{auth_server.base_url}/admin/usage",
        params={"format": "csv", "key_id": metered_key["id"]},
        headers={"Authorization": f"Bearer {admin_key}"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    json_rows = admin_get(auth_server, admin_key, "/admin/usage", key_id=metered_key["id"])
    assert len(rows) == len(json_rows["data"]) == 2
    for row, expected in zip(rows, json_rows["data"], strict=True):
        assert row["capability"] == expected["capability"]
        assert int(row["requests"]) == expected["requests"]
        assert float(row["audio_seconds_out"]) == pytest.approx(expected["audio_seconds_out"])


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"group_by": "key,colour"}, "group_by"),
        ({"start": "yesterday"}, "start"),
        ({"start": "2026-11-02", "end": "2026-11-01"}, "start"),
        ({"format": "xml"}, "format"),
    ],
)
def test_bad_usage_queries_are_400(
    auth_server: ServerProcess, admin_key: str, params: dict[str, str], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        admin(auth_server, admin_key).get("/admin/usage", cast_to=object,
                                          options={"params": params})  # fmt: skip
    assert caught.value.param == param


def test_a_disconnected_client_leaves_one_cancelled_record(
    auth_server: ServerProcess, admin_key: str
) -> None:
    created = admin_post(auth_server, admin_key, "/admin/keys", {"name": "walks-away"})
    text = " ".join(f"This is sentence number {n} of a long reading." for n in range(40))
    with httpx.stream("POST", f"{auth_server.base_url}/v1/audio/speech",
                      headers={"Authorization": f"Bearer {created['value']}"},
                      json={"model": "tts-1", "voice": "alloy", "input": text,
                            "response_format": "pcm"}) as response:  # fmt: skip
        request_id = response.headers["x-request-id"]
        next(response.iter_bytes())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        records = admin_get(auth_server, admin_key, "/admin/usage/records",
                            request_id=request_id)["data"]  # fmt: skip
        if records and records[0]["status"] != "reserved":
            break
        time.sleep(0.2)
    assert len(records) == 1
    assert records[0]["status"] == "cancelled"
    assert records[0]["input_characters"] == len(text)


def test_metrics_in_prometheus_format(auth_server: ServerProcess, admin_key: str,
                                      metered_key: dict[str, str]) -> None:  # fmt: skip
    response = httpx.get(f"{auth_server.base_url}/metrics",
                         headers={"Authorization": f"Bearer {admin_key}"})  # fmt: skip
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    requests = families["stepaudio_http_requests"].samples
    speech_ok = [s for s in requests if s.labels.get("route") == "/v1/audio/speech"
                 and s.labels.get("status") == "200" and s.name.endswith("_total")]  # fmt: skip
    assert speech_ok and speech_ok[0].value >= 3
    assert any(s.labels.get("status") == "401" for s in requests)
    latency = families["stepaudio_http_request_duration_seconds"].samples
    assert any(s.name.endswith("_count") and s.labels["route"] == "/v1/audio/speech"
               for s in latency)  # fmt: skip
    audio_out = [s for s in families["stepaudio_audio_seconds"].samples
                 if s.labels.get("direction") == "out" and s.name.endswith("_total")]  # fmt: skip
    assert sum(s.value for s in audio_out) > 1.0
    assert families["stepaudio_engine_queue_depth"].samples[0].value >= 0
    assert families["stepaudio_engine_threads"].samples[0].value >= 1
