"""/v1/audio/voices through the openai SDK: Step-Audio's own prompt clips in, prepared reference
clips out (downloaded back through /admin), every refusal a clear 4xx."""

from __future__ import annotations

import io
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import av
import httpx
import jiwer
import numpy as np
import openai
import pytest
from audio_checks import JFK, decode, word_error_rate
from conftest import ServerProcess
from voice_helpers import TINGTING, VOICE_ID, admin_client, refused, shared_consent, unique

RATE = 24000
# source seconds, and the prepared clip's seconds (speech plus a short pad, see
# test_reference_clip.py): lixueqin opens with room tone, yuqian trails off
ZH_FILES = {
    "zh_lixueqin_prompt.wav": (3.12, 2.47),
    "zh_tingting_prompt.wav": (4.40, 4.40),
    "zh_yuqian_prompt.wav": (8.10, 7.77),
}


@pytest.fixture(scope="session")
def admin(server: ServerProcess) -> Iterator[httpx.Client]:
    with admin_client(server) as client:
        yield client


def create(client: openai.OpenAI, path: Path, name: str, **extra: Any) -> Any:
    consent = shared_consent(client, path.parent)
    with path.open("rb") as audio:
        return client.audio.voices.create(
            name=name, audio_sample=audio, consent=consent, extra_body=extra or None
        )


# tests/data/README.md
PUBLISHED_TRANSCRIPTS = {
    "zh_tingting_prompt.wav": "那等我们到海洋馆之后，给妈妈买个礼物，好不好呀？",
    "zh_yuqian_prompt.wav": "叫做秋风起蟹脚痒，啊，什么意思呢？"
    "就是说这秋风一起啊，螃蟹就该上市了。",
}


def character_error_rate(reference: str, heard: str) -> float:
    """Over Chinese characters only (punctuation and spaces dropped, traditional simplified)."""
    import zhconv

    def keep(text: str) -> str:
        return "".join(c for c in zhconv.convert(text, "zh-cn") if "\u4e00" <= c <= "\u9fff")

    return float(jiwer.cer(keep(reference), keep(heard)))


def encode(samples: np.ndarray, rate: int, fmt: str, codec: str, **options: str) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=fmt, options=options) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(
            samples.astype(np.float32).reshape(1, -1), format="flt", layout="mono"
        )
        frame.sample_rate = rate
        frame.pts = 0
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return buffer.getvalue()


@pytest.mark.parametrize("file_name", list(ZH_FILES))
def test_each_step_audio_prompt_becomes_a_voice(
    client: openai.OpenAI, server: ServerProcess, admin: httpx.Client, testdata: Path,
    file_name: str,
) -> None:  # fmt: skip
    source_seconds, trimmed_seconds = ZH_FILES[file_name]
    name = unique(file_name.split("_")[1])
    started = time.time()
    voice = create(client, testdata / file_name, name)
    assert voice.object == "audio.voice" and voice.type == "audio_sample"
    assert VOICE_ID.fullmatch(voice.id) and voice.name == name
    assert started - 2 <= voice.created_at <= time.time() + 1
    extra = voice.model_extra or {}
    assert abs(extra["duration"] - trimmed_seconds) < 0.3, extra
    assert extra["speech_seconds"] <= extra["duration"] <= source_seconds + 0.01
    assert extra["sample_rate"] == RATE
    # no transcript was sent: the multilingual recognizer writes one; the engines here
    # cannot clone, so no model speaks it yet
    assert extra["transcript_source"] == "recognized" and extra["transcript"]
    if published := PUBLISHED_TRANSCRIPTS.get(file_name):  # lixueqin's is not published
        assert character_error_rate(published, extra["transcript"]) < 0.3, extra["transcript"]
    assert extra["models"] == []

    got = httpx.get(f"{server.base_url}/v1/audio/voices/{voice.id}").json()
    assert got == voice.model_dump(exclude_unset=True) | extra
    listed = httpx.get(f"{server.base_url}/v1/audio/voices").json()
    assert listed["object"] == "list"
    by_id = {v["id"]: v for v in listed["data"]}
    assert by_id[voice.id]["name"] == name
    assert by_id["alloy"]["type"] == "builtin" and by_id["alloy"]["alias_of"] == "joe"
    assert by_id["joe"]["models"] == ["step-audio-tts"]

    for fmt in ("wav", "flac"):
        response = admin.get(f"/admin/voices/{voice.id}/audio", params={"format": fmt})
        assert response.status_code == 200 and response.headers["content-type"] == f"audio/{fmt}"
        assert f'filename="{voice.id}.{fmt}"' in response.headers["content-disposition"]
        audio = decode(response.content, fmt)
        assert audio.sample_rate == RATE and audio.channels == 1
        assert abs(audio.duration - extra["duration"]) < 0.01


def test_an_english_clip_without_a_transcript_is_transcribed(
    client: openai.OpenAI, testdata: Path
) -> None:
    voice = create(client, testdata / "en_jfk.flac", unique("jfk"))
    extra = voice.model_extra or {}
    assert extra["transcript_source"] == "recognized"
    assert "country" in extra["transcript"]
    assert word_error_rate(JFK, extra["transcript"]) <= 0.1, extra["transcript"]
    # the 11 s recording holds 7.4 s of speech; its trailing silence is cut
    assert 9.5 < extra["duration"] < 11.0 and 6.5 < extra["speech_seconds"] < 8.5


def test_a_transcript_sent_with_the_clip_is_kept(client: openai.OpenAI, testdata: Path) -> None:
    voice = create(client, testdata / "zh_tingting_prompt.wav", unique("婷婷"), transcript=TINGTING)
    extra = voice.model_extra or {}
    assert extra["transcript"] == TINGTING and extra["transcript_source"] == "uploaded"
    assert voice.name.startswith("婷婷")


def test_bad_clips_get_a_clear_4xx(client: openai.OpenAI, testdata: Path) -> None:
    speech = decode((testdata / "zh_tingting_prompt.wav").read_bytes(), "wav")
    one_second = encode(
        speech.samples[: speech.sample_rate], speech.sample_rate, "wav", "pcm_s16le"
    )
    silence = encode(np.zeros(5 * RATE), RATE, "wav", "pcm_s16le")
    jfk = decode((testdata / "en_jfk.flac").read_bytes(), "flac")
    bare = encode(
        jfk.samples[::2], jfk.sample_rate // 2, "mp3", "libmp3lame", id3v2_version="0",
        write_xing="0",
    )  # fmt: skip
    ten_minutes = bare * 55  # bare MP3 frames concatenate into one 10-minute stream
    text = b"this is a text file, not audio\n" * 50
    consent = shared_consent(client, testdata)
    cases = [
        (one_second, 400, "audio_too_short", "at least 2 s"),
        (silence, 400, "no_speech", "no speech found"),
        (ten_minutes, 400, "audio_too_long", "maximum is 100 s"),
        (text, 400, "invalid_audio", "not a recognised audio format"),
    ]
    for data, status, code, words in cases:
        started = time.perf_counter()
        refused(
            lambda data=data: client.audio.voices.create(
                name=unique("bad"), audio_sample=("clip.bin", data), consent=consent
            ),
            status, code, "audio_sample", words,
        )  # fmt: skip
        assert time.perf_counter() - started < 5
    assert len(ten_minutes) < 3_000_000


def test_bad_names_and_fields_get_a_clear_4xx(
    client: openai.OpenAI, server: ServerProcess, testdata: Path
) -> None:
    clip = (testdata / "zh_lixueqin_prompt.wav").read_bytes()
    consent = shared_consent(client, testdata)
    name = unique("twice")
    create(client, testdata / "zh_lixueqin_prompt.wav", name)

    def upload(name: str, **extra: Any) -> Any:
        return lambda: client.audio.voices.create(
            name=name, audio_sample=("a.wav", clip), consent=consent, extra_body=extra or None
        )

    refused(upload(name), 409, "voice_name_taken", "name", f"'{name}' already exists")
    refused(upload("alloy"), 409, "voice_name_taken", "name", "built-in voice")
    refused(upload("joe"), 409, "voice_name_taken", "name", "built-in voice")
    refused(upload("x" * 101), 400, "invalid_name", "name", "1 to 100 characters")
    refused(upload("voice_" + "0" * 24), 400, "invalid_name", "name", "form of a voice id")
    refused(upload(unique("u"), style="x"), 400, None, "style", "Unrecognized request argument")
    refused(
        lambda: client.audio.voices.create(name=unique("p"), prompt="a deep voice", type="prompt"),
        400, "unsupported_voice_type", "type", "not supported",
    )  # fmt: skip
    response = httpx.post(f"{server.base_url}/v1/audio/voices", json={"name": "x"})
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    response = httpx.post(f"{server.base_url}/v1/audio/voices", files={"name": (None, "x")})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "audio_sample"


def test_a_50_mb_upload_is_refused_before_it_is_read(server: ServerProcess) -> None:
    head = (
        b'--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nbig\r\n--b\r\n'
        b'Content-Disposition: form-data; name="audio_sample"; filename="a.wav"\r\n\r\n'
    )
    size = 50 * 1024 * 1024
    # only the headers and the first 64 KiB are sent: the answer comes from Content-Length
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        started = time.perf_counter()
        sock.sendall(
            b"POST /v1/audio/voices HTTP/1.1\r\nHost: test\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\n"
            b"Content-Length: %d\r\n\r\n" % size + head + bytes(65536)
        )
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            reply += sock.recv(65536)
        assert time.perf_counter() - started < 1
    assert reply.startswith(b"HTTP/1.1 413 ")
    assert b'"code":"request_too_large"' in reply and b'"type":"invalid_request_error"' in reply

    sent = 0

    def body() -> Iterator[bytes]:
        nonlocal sent
        yield head
        for _ in range(size // 65536):
            sent += 65536
            yield bytes(65536)

    started = time.perf_counter()
    response = httpx.post(
        f"{server.base_url}/v1/audio/voices", content=body(),
        headers={"content-type": "multipart/form-data; boundary=b",
                 "content-length": str(len(head) + size)},
    )  # fmt: skip
    assert response.status_code == 413 and time.perf_counter() - started < 5
    error = response.json()["error"]
    assert error["code"] == "request_too_large" and "11534336 bytes" in error["message"]

    # within the form's allowance but over the file limit: read, then refused by its size
    response = httpx.post(
        f"{server.base_url}/v1/audio/voices",
        files={"name": (None, "big"), "audio_sample": ("a.wav", bytes(10 * 1024 * 1024 + 1))},
    )
    assert response.status_code == 413
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("file_too_large", "audio_sample")
    assert "10485760 bytes" in error["message"]


def test_speaking_a_cloned_voice_needs_a_model_that_clones(
    client: openai.OpenAI, testdata: Path
) -> None:
    name = unique("clone")
    voice = create(client, testdata / "zh_tingting_prompt.wav", name, transcript=TINGTING)
    for given in ({"id": voice.id}, name):
        body = refused(
            lambda given=given: client.audio.speech.create(
                model="tts-1", voice=given, input="你好。"  # type: ignore[arg-type]
            ).read(),
            400, "voice_cloning_unsupported", "voice", f"'{name}'",
        )  # fmt: skip
        assert "cannot speak cloned voices" in body["message"]
        assert "Step-Audio TTS engine" in body["message"]
    refused(
        lambda: client.audio.speech.create(model="tts-1", voice="nobody-here", input="Hi.").read(),
        400, "voice_not_found", "voice", "nobody-here",
    )  # fmt: skip


def test_delete_removes_a_voice(
    client: openai.OpenAI, server: ServerProcess, testdata: Path
) -> None:
    voice = create(client, testdata / "zh_lixueqin_prompt.wav", unique("gone"))
    deleted = client.audio.voices.delete(voice.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (voice.id, "audio.voice.deleted", True)
    response = httpx.get(f"{server.base_url}/v1/audio/voices/{voice.id}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "voice_not_found"
    refused(lambda: client.audio.voices.delete(voice.id), 404, "voice_not_found", "voice_id", "")
    speak = client.audio.speech.create
    refused(
        lambda: speak(model="tts-1", voice={"id": voice.id}, input="Hi.").read(),
        400, "voice_not_found", "voice", voice.id,
    )  # fmt: skip
    refused(lambda: client.audio.voices.delete("alloy"), 400, "builtin_voice", "voice_id", "alloy")


def test_one_name_uploaded_at_once_gives_one_voice(server: ServerProcess, testdata: Path) -> None:
    """Parallel uploads of one name pass the early check together; the unique index decides."""
    name = unique("race")
    clip = (testdata / "zh_tingting_prompt.wav").read_bytes()

    def upload(_: int) -> int:
        return httpx.post(
            f"{server.base_url}/v1/audio/voices", timeout=60,
            data={"name": name, "transcript": TINGTING},
            files={"audio_sample": ("a.wav", clip)},
        ).status_code  # fmt: skip

    with ThreadPoolExecutor(4) as pool:
        statuses = sorted(pool.map(upload, range(4)))
    assert statuses == [200, 409, 409, 409]
    listed = httpx.get(f"{server.base_url}/v1/audio/voices").json()["data"]
    assert [v["name"] for v in listed].count(name) == 1
