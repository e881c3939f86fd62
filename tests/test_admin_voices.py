"""/admin/voices and `stepaudio-api voices`: full metadata, edits, downloads, previews, CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from audio_checks import JFK, word_error_rate
from conftest import ServerProcess
from voice_helpers import TINGTING, VOICE_ID, admin_client, new_consent, unique


@pytest.fixture(scope="session")
def admin(server: ServerProcess) -> Iterator[httpx.Client]:
    with admin_client(server) as client:
        yield client


def test_admin_voice_profiles(admin: httpx.Client, server: ServerProcess, testdata: Path) -> None:
    name = unique("admin")
    consent = new_consent(server.client(), testdata)  # another key's: the admin may use any
    with (testdata / "zh_yuqian_prompt.wav").open("rb") as audio:
        response = admin.post(
            "/admin/voices",
            data={"name": name, "transcript": "叫做秋风起蟹脚痒", "consent": consent,
                  "description": "Yuqian, crosstalk", "language": "zh", "denoise": "true"},
            files={"audio_sample": ("yuqian.wav", audio, "audio/wav")},
        )  # fmt: skip
    assert response.status_code == 201, response.text
    voice = response.json()
    assert voice["denoised"] is True and voice["consent"] == consent
    assert voice["source_filename"] == "yuqian.wav" and abs(voice["source_duration"] - 8.1) < 0.01
    assert abs(voice["loudness_lufs"] - (-23.0)) < 0.5 and voice["created_by"].startswith("key_")
    assert (voice["language"], voice["transcript_source"]) == ("zh", "uploaded")
    path = f"/admin/voices/{voice['id']}"
    assert voice["id"] in [v["id"] for v in admin.get("/admin/voices").json()["data"]]
    assert admin.get(path).json() == voice

    other = unique("other")
    changed = admin.patch(path, json={"name": other, "transcript": "秋风起蟹脚痒。",
                                      "description": None}).json()  # fmt: skip
    assert (changed["name"], changed["transcript"]) == (other, "秋风起蟹脚痒。")
    assert "description" not in changed and changed["updated_at"] >= voice["updated_at"]
    taken = unique("taken")
    admin.post(
        "/admin/voices", data={"name": taken, "transcript": "x"},
        files={"audio_sample": ("a.wav", (testdata / "zh_lixueqin_prompt.wav").read_bytes())},
    ).raise_for_status()  # fmt: skip
    for change, status, code in [
        ({"name": taken}, 409, "voice_name_taken"),
        ({"name": "alloy"}, 409, "voice_name_taken"),
        ({"name": " "}, 400, "invalid_name"),
        ({"transcript": ""}, 400, None),
        ({"volume": 3}, 400, None),
    ]:
        response = admin.patch(path, json=change)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), change

    response = admin.get(f"{path}/audio")  # wav by default, named after the voice
    assert response.headers["content-type"] == "audio/wav"
    assert "filename*=UTF-8''other-" in response.headers["content-disposition"]
    assert admin.get(f"{path}/audio", params={"format": "mp3"}).status_code == 400

    response = admin.post(f"{path}/preview", json={"input": "秋风起了。"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "voice_cloning_unsupported" and other in error["message"]

    assert admin.delete(path).json() == {"id": voice["id"], "object": "audio.voice.deleted",
                                         "deleted": True}  # fmt: skip
    for response in (admin.get(path), admin.delete(path), admin.post(f"{path}/preview",
                     json={"input": "x"}), admin.get(f"{path}/audio")):  # fmt: skip
        assert response.status_code == 404
    assert httpx.get(f"{server.base_url}/admin/voices").status_code == 401


def test_cli_voices_add_and_list(server: ServerProcess, testdata: Path) -> None:
    name = unique("cli")
    tingting = str(testdata / "zh_tingting_prompt.wav")
    added = server.cli("voices", "add", name, "--audio", tingting, "--text", TINGTING)
    lines = added.stdout.strip().splitlines()
    voice_id = lines[-1]
    assert VOICE_ID.fullmatch(voice_id)
    assert "4.40 s clip" in lines[0] and "24000 Hz" in lines[0]
    assert lines[1] == f"transcript (uploaded): {TINGTING}"
    served = httpx.get(f"{server.base_url}/v1/audio/voices/{voice_id}").json()
    assert served["name"] == name and served["transcript"] == TINGTING

    recognized = server.cli("voices", "add", unique("cli-jfk"), "--audio",
                            str(testdata / "en_jfk.flac"))  # fmt: skip
    # whisper's casing and punctuation differ from one CPU to another (CTranslate2 picks its
    # kernels by instruction set: AVX2 and AVX-512 round differently), so the words are checked
    heard = recognized.stdout.split("transcript (recognized): ", 1)[1].splitlines()[0]
    assert word_error_rate(JFK, heard) <= 0.10, heard

    again = server.cli("voices", "add", name, "--audio", tingting, "--text", "x", check=False)
    assert again.returncode == 1 and "already exists" in again.stderr
    listed = server.cli("voices", "list").stdout
    assert f"{voice_id}\t{name}\t4.40\t" in listed
