"""/v1/audio/voice_consents through the openai SDK: a consent's whole life, refusals of what is
not a recording, each key's consents its own, and the consent a cloned voice names."""

from __future__ import annotations

import io
import re
import socket
import time
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import openai
from audio_checks import decode
from conftest import ServerProcess
from keys import create_key, sdk
from voice_helpers import TINGTING, new_consent, refused, unique

CONSENT_ID = r"cons_[0-9a-f]{24}"


def recording(testdata: Path, name: str = "zh_tingting_prompt.wav") -> tuple[str, bytes]:
    return (name, (testdata / name).read_bytes())


def make_voice(client: openai.OpenAI, testdata: Path, consent: str) -> Any:
    return client.audio.voices.create(
        name=unique("consented"), audio_sample=recording(testdata), consent=consent,
        extra_body={"transcript": TINGTING},
    )  # fmt: skip


def test_a_consent_from_upload_to_delete(
    client: openai.OpenAI, server: ServerProcess, testdata: Path
) -> None:
    consents = client.audio.voice_consents
    started = time.time()
    uploads = {"zh-CN": "zh_tingting_prompt.wav", "en-US": "en_jfk.flac",
               "zh": "zh_yuqian_prompt.wav"}  # fmt: skip
    made = [
        consents.create(name=unique("c"), language=language, recording=recording(testdata, f))
        for language, f in uploads.items()
    ]
    for consent, language in zip(made, uploads, strict=True):
        assert consent.object == "audio.voice_consent" and consent.language == language
        assert started - 2 <= consent.created_at <= time.time() + 1
        assert consent.model_dump().keys() == {"id", "object", "name", "language", "created_at"}
        assert re.fullmatch(CONSENT_ID, consent.id), consent.id
        assert consents.retrieve(consent.id) == consent

    # newest first, two a page; the server is shared, so ours are the newest three
    newest = [c.id for c in reversed(made)]
    page = consents.list(limit=2)
    assert [c.id for c in page.data] == newest[:2] and page.has_more is True
    extra = page.model_extra or {}
    assert (extra["object"], extra["first_id"], extra["last_id"]) == ("list", *newest[:2])
    following = page.get_next_page()
    assert following.data[0].id == newest[2]
    walked = [c.id for c in consents.list(limit=2)]  # the SDK follows `after` to the end
    assert walked[:3] == newest and len(walked) == len(set(walked))
    raw = httpx.get(f"{server.base_url}/v1/audio/voice_consents", params={"after": newest[0]})
    assert [c["id"] for c in raw.json()["data"]][:2] == newest[1:]

    first = made[0]
    renamed = consents.update(first.id, name="renamed consent")
    assert renamed.name == "renamed consent"
    assert renamed.model_dump() == first.model_dump() | {"name": "renamed consent"}
    assert consents.retrieve(first.id).name == "renamed consent"

    deleted = consents.delete(first.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (first.id, True, "audio.voice_consent")
    for call in (lambda: consents.retrieve(first.id), lambda: consents.delete(first.id),
                 lambda: consents.update(first.id, name="again")):  # fmt: skip
        refused(call, 404, "consent_not_found", "consent_id", first.id)
    assert first.id not in [c.id for c in consents.list(limit=100)]
    refused(lambda: make_voice(client, testdata, first.id), 400, "consent_not_found", "consent",
            first.id)  # fmt: skip


def encode(samples: np.ndarray, rate: int, fmt: str, codec: str) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(
            samples.astype(np.float32).reshape(1, -1), format="flt", layout="mono"
        )
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return buffer.getvalue()


def test_what_is_not_a_recording_is_a_400(client: openai.OpenAI, testdata: Path) -> None:
    flac = (testdata / "en_jfk.flac").read_bytes()
    cases = [
        (b"", "invalid_audio", "empty"),
        (b"this is a text file, not audio\n" * 50, "invalid_audio", "not a recognised audio"),
        (flac[: len(flac) // 3], "invalid_audio", "the audio is corrupt"),
        (flac[:4096] + bytes(range(256)) * 200, "invalid_audio", "no decodable audio"),
        (flac[:42], "invalid_audio", ""),  # FLAC's header blocks alone
        (encode(np.zeros(3 * 24000), 24000, "wav", "pcm_s16le"), "no_speech", "no speech"),
    ]
    for data, code, words in cases:
        refused(
            lambda data=data: client.audio.voice_consents.create(
                name=unique("bad"), language="en", recording=("c.flac", data)
            ),
            400, code, "recording", words,
        )  # fmt: skip
    good = recording(testdata)
    create = client.audio.voice_consents.create
    refused(lambda: create(name=" ", language="en", recording=good), 400, None, "name",
            "'name' is required")  # fmt: skip
    refused(lambda: create(name="x" * 101, language="en", recording=good), 400, "invalid_name",
            "name", "1 to 100")  # fmt: skip
    refused(lambda: create(name="n", language="in English", recording=good), 400,
            "invalid_language", "language", "BCP 47")  # fmt: skip
    refused(lambda: create(name="n", language="", recording=good), 400, None, "language",
            "required")  # fmt: skip
    refused(lambda: create(name="n", language="en", recording=good, extra_body={"x": "1"}), 400,
            None, "x", "Unrecognized request argument")  # fmt: skip
    listing = client.audio.voice_consents.list
    refused(lambda: listing(limit=0), 400, None, "limit", "between 1 and 100")
    refused(lambda: listing(limit=101), 400, None, "limit", "between 1 and 100")
    refused(lambda: listing(after="voice_1"), 400, None, "after", "voice consent id")
    some = new_consent(client, testdata)
    refused(lambda: client.audio.voice_consents.update(some, name=""), 400, "invalid_name",
            "name", "1 to 100")  # fmt: skip
    update = client.audio.voice_consents.update
    refused(lambda: update(some, name="n", extra_body={"language": "x"}), 400, None, "language",
            "Unrecognized request argument")  # fmt: skip


def test_an_oversize_recording_is_a_413(server: ServerProcess) -> None:
    url = f"{server.base_url}/v1/audio/voice_consents"
    fields = {"name": (None, "big"), "language": (None, "en")}
    # within the form's allowance but over the file limit: refused by its size, not decoded
    too_big = ("a.wav", bytes(10 * 1024 * 1024 + 1))
    response = httpx.post(url, files={**fields, "recording": too_big})
    assert response.status_code == 413
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("file_too_large", "recording")
    assert "10485760 bytes" in error["message"]

    # a body declared larger than the route's limit: answered from Content-Length alone
    head = b'--b\r\nContent-Disposition: form-data; name="recording"; filename="a.wav"\r\n\r\n'
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/audio/voice_consents HTTP/1.1\r\nHost: test\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\n"
            b"Content-Length: %d\r\n\r\n" % (50 * 1024 * 1024) + head + bytes(65536)
        )
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            reply += sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 413 ") and b'"code":"request_too_large"' in reply


def test_a_voice_naming_an_unknown_consent_is_a_400(client: openai.OpenAI, testdata: Path) -> None:
    for consent in ("cons_" + "0" * 24, "cons_test", "voice_" + "0" * 24):
        body = refused(lambda c=consent: make_voice(client, testdata, c), 400,
                       "consent_not_found", "consent", consent)  # fmt: skip
        assert body["type"] == "invalid_request_error"
    consent = new_consent(client, testdata)
    voice = make_voice(client, testdata, consent)
    assert voice.object == "audio.voice"


def test_a_consent_is_its_own_keys(
    auth_server: ServerProcess, admin_key: str, testdata: Path
) -> None:
    owner = sdk(auth_server, create_key(auth_server, "consent-owner"))
    other = sdk(auth_server, create_key(auth_server, "consent-other"))
    consent = new_consent(owner, testdata, "owned")
    mine = new_consent(other, testdata, "others")

    theirs = other.audio.voice_consents
    for call in (lambda: theirs.retrieve(consent), lambda: theirs.update(consent, name="x"),
                 lambda: theirs.delete(consent)):  # fmt: skip
        refused(call, 404, "consent_not_found", "consent_id", consent)
    assert [c.id for c in theirs.list(limit=100)] == [mine]
    refused(lambda: make_voice(other, testdata, consent), 400, "consent_not_found", "consent",
            consent)  # fmt: skip
    assert make_voice(owner, testdata, consent).object == "audio.voice"
    assert owner.audio.voice_consents.retrieve(consent).id == consent  # still there, untouched

    base = auth_server.base_url
    assert httpx.get(f"{base}/v1/audio/voice_consents").status_code == 401
    assert httpx.get(f"{base}/v1/audio/voice_consents/{consent}").status_code == 401
    user_headers = {"Authorization": f"Bearer {other.api_key}"}
    assert httpx.get(f"{base}/admin/voice_consents", headers=user_headers).status_code == 403

    admin = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {admin_key}"})
    listed = admin.get("/admin/voice_consents", params={"limit": 100}).json()["data"]
    by_id = {c["id"]: c for c in listed}
    assert {consent, mine} <= set(by_id)
    assert by_id[consent]["key_id"] != by_id[mine]["key_id"]
    assert by_id[consent]["key_id"].startswith("key_")
    assert abs(by_id[consent]["duration"] - 4.4) < 0.05 and by_id[consent]["sample_rate"] == 24000
    for fmt in ("wav", "flac"):
        response = admin.get(f"/admin/voice_consents/{consent}/audio", params={"format": fmt})
        assert response.status_code == 200 and response.headers["content-type"] == f"audio/{fmt}"
        audio = decode(response.content, fmt)
        assert audio.sample_rate == 24000 and abs(audio.duration - 4.4) < 0.05
    assert admin.delete(f"/admin/voice_consents/{mine}").json()["deleted"] is True
    refused(lambda: theirs.retrieve(mine), 404, "consent_not_found", "consent_id", mine)
    admin.close()
