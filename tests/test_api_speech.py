"""POST /v1/audio/speech through the openai SDK: every format, speed, streaming, SSE, bad input."""

from __future__ import annotations

import base64
import json
import statistics
import time

import httpx
import openai
import pytest
from audio_checks import decode, word_error_rate
from chat_helpers import pcm_to_wav, transcribe

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Please call me back when you get home tonight.",
    "We will meet at the library at nine in the morning.",
]
# What PyAV reports for each format: rate and channels.
EXPECTED_RATE = {
    "mp3": 24000,
    "opus": 48000,
    "aac": 24000,
    "flac": 24000,
    "wav": 24000,
    "pcm": 24000,
}
FORMATS = list(EXPECTED_RATE)


def speak(client: openai.OpenAI, text: str, **kwargs: object) -> bytes:
    kwargs.setdefault("model", "tts-1")
    kwargs.setdefault("voice", "alloy")
    return client.audio.speech.create(input=text, **kwargs).read()  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
def test_speech_round_trip_in_every_format(client: openai.OpenAI, fmt: str) -> None:
    """Each format decodes at the right rate, mono, with a plausible duration, and transcribes
    back to the sentence that was spoken."""
    for sentence in SENTENCES:
        data = speak(client, sentence, response_format=fmt)
        audio = decode(data, fmt)
        assert audio.sample_rate == EXPECTED_RATE[fmt]
        assert audio.channels == 1
        words = len(sentence.split())
        assert 0.15 * words < audio.duration < 0.8 * words + 1.0, audio.duration
        upload = data if fmt != "pcm" else pcm_to_wav(data)
        name = f"speech.{'wav' if fmt == 'pcm' else fmt}"
        text = transcribe(client, upload, name)
        assert word_error_rate(sentence, text) <= 0.10, (fmt, sentence, text)


def test_pcm_is_24khz_16bit_mono_little_endian(client: openai.OpenAI) -> None:
    pcm = speak(client, "Testing raw audio.", response_format="pcm")
    wav = speak(client, "Testing raw audio.", response_format="wav")
    assert len(pcm) % 2 == 0
    assert wav[:4] == b"RIFF" and wav[22:24] == b"\x01\x00"  # one channel
    assert int.from_bytes(wav[24:28], "little") == 24000
    assert int.from_bytes(wav[34:36], "little") == 16
    # Piper samples its phoneme durations and pauses, so two syntheses of a short sentence can
    # differ by a third; a rate mix-up (12 or 48 kHz, stereo) would double or halve it.
    assert 0.6 < len(pcm) / 2 / 24000 / decode(wav, "wav").duration < 1.6
    # read as 24 kHz 16-bit little-endian mono, the bytes are the sentence (big-endian is noise)
    heard = transcribe(client, pcm_to_wav(pcm), "speech.wav")
    assert word_error_rate("Testing raw audio.", heard) <= 0.34, heard


def test_speed_two_halves_the_duration(client: openai.OpenAI) -> None:
    text = "Speaking faster should make this sentence take about half as long to say."

    def duration(speed: float) -> float:
        # Piper samples its phoneme durations, so take the median of three syntheses
        runs = [speak(client, text, response_format="wav", speed=speed) for _ in range(3)]
        return statistics.median(decode(data, "wav").duration for data in runs)

    normal, fast, slow = duration(1.0), duration(2.0), duration(0.5)
    assert abs(fast / normal - 0.5) <= 0.5 * 0.15, (normal, fast)
    assert abs(slow / normal - 2.0) <= 2.0 * 0.15, (normal, slow)


def test_streaming_sends_audio_before_the_whole_text_is_spoken(server, client) -> None:  # type: ignore[no-untyped-def]
    paragraph = " ".join(SENTENCES * 3)
    started = time.perf_counter()
    chunks: list[tuple[float, int]] = []
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input=paragraph, response_format="pcm"
    ) as response:
        assert response.headers["content-type"].startswith("audio/pcm")
        assert response.headers.get("transfer-encoding") == "chunked"
        for chunk in response.iter_bytes(4096):
            chunks.append((time.perf_counter() - started, len(chunk)))
    total_seconds = sum(n for _t, n in chunks) / 2 / 24000
    assert total_seconds > 10
    first_at, last_at = chunks[0][0], chunks[-1][0]
    assert first_at < last_at / 2, (first_at, last_at)


def test_sse_stream_format(server) -> None:  # type: ignore[no-untyped-def]
    body = {
        "model": "tts-1",
        "voice": "alloy",
        "input": "Server sent events, please.",
        "response_format": "pcm",
        "stream_format": "sse",
    }
    with httpx.stream("POST", f"{server.base_url}/v1/audio/speech", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [
            json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")
        ]
    deltas = [e for e in events if e["type"] == "speech.audio.delta"]
    assert deltas and events[-1]["type"] == "speech.audio.done"
    pcm = b"".join(base64.b64decode(e["audio"]) for e in deltas)
    seconds = len(pcm) / 2 / 24000
    usage = events[-1]["usage"]
    assert usage["input_tokens"] == len(body["input"])
    assert abs(usage["output_audio_seconds"] - seconds) < 0.05
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


def test_voice_as_custom_voice_object_and_our_own_name(client: openai.OpenAI) -> None:
    for voice in ("joe", "cedar", {"id": "joe"}):
        assert (
            decode(speak(client, "Hello.", voice=voice, response_format="wav"), "wav").duration
            > 0.3
        )


@pytest.mark.parametrize(
    ("change", "status", "param", "words"),
    [
        ({"input": ""}, 400, "input", "empty"),
        ({"input": "x" * 5000}, 400, "input", "4096"),
        ({"voice": "nobody"}, 400, "voice", "nobody"),
        ({"voice": {"id": "voice_missing"}}, 400, "voice", "voice_missing"),
        ({"model": "no-such-model"}, 404, "model", "no-such-model"),
        ({"model": "whisper-1"}, 400, "model", "cannot do speech"),
        ({"speed": 10}, 400, "speed", "4.0"),
        ({"speed": 0.1}, 400, "speed", "0.25"),
        ({"response_format": "ogg"}, 400, "response_format", "mp3"),
        ({"stream_format": "websocket"}, 400, "stream_format", "sse"),
        ({"sample_rate": 44100, "response_format": "opus"}, 400, "sample_rate", "48000"),
        ({"sample_rate": 0}, 400, "sample_rate", "24000"),
        ({"input": "\x00\x01\x1b\ufeff"}, 400, "input", "nothing speakable"),
        ({"emotion_level": 3}, 400, "emotion_level", "Unrecognized"),
    ],
)
def test_bad_speech_requests_get_a_clear_4xx(client, change, status, param, words) -> None:  # type: ignore[no-untyped-def]
    kwargs = {"model": "tts-1", "voice": "alloy", "input": "Hello."}
    kwargs.update(change)
    extra = {k: kwargs.pop(k) for k in list(kwargs) if k in ("sample_rate", "emotion_level")}
    with pytest.raises(openai.APIStatusError) as caught:
        client.audio.speech.create(**kwargs, extra_body=extra or None).read()
    error = caught.value
    assert error.status_code == status
    body = error.body
    assert isinstance(body, dict), body
    assert body["param"] == param
    assert words in body["message"]
    assert body["type"] == "invalid_request_error"
    # and the server still serves
    assert len(speak(client, "Still here.", response_format="pcm")) > 1000


def test_control_characters_are_not_spoken(server, client: openai.OpenAI) -> None:  # type: ignore[no-untyped-def]
    """NUL and other control characters (which crash the phonemiser) are taken out before any
    engine reads the text, in the first sentence or a later one, streamed or not."""
    said = "Hello\x00 there, my\x07 friend. The second\x00 sentence\x1b is here."
    heard = transcribe(client, speak(client, said, response_format="wav"))
    assert word_error_rate("Hello there, my friend. The second sentence is here.", heard) <= 0.2
    body = {"model": "tts-1", "voice": "alloy", "input": said, "stream_format": "sse"}
    response = httpx.post(f"{server.base_url}/v1/audio/speech", json=body, timeout=60)
    assert response.status_code == 200
    events = [json.loads(line[6:]) for line in response.text.splitlines()
              if line.startswith("data: ")]  # fmt: skip
    assert events[-1]["type"] == "speech.audio.done", events[-1]


def test_a_lone_surrogate_is_a_clear_400(server) -> None:  # type: ignore[no-untyped-def]
    raw = b'{"model": "tts-1", "voice": "alloy", "input": "bad \\ud800 text"}'
    response = httpx.post(f"{server.base_url}/v1/audio/speech", content=raw,
                          headers={"content-type": "application/json"})  # fmt: skip
    assert response.status_code == 400
    assert "surrogate" in response.json()["error"]["message"]


@pytest.mark.parametrize("raw", [b"", b"{not json", b"[1, 2]", b'{"model": "tts-1"}'])
def test_malformed_json_bodies(server, raw: bytes) -> None:  # type: ignore[no-untyped-def]
    response = httpx.post(
        f"{server.base_url}/v1/audio/speech", content=raw,
        headers={"content-type": "application/json"},
    )  # fmt: skip
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"]


def test_client_disconnect_releases_the_engine(server) -> None:  # type: ignore[no-untyped-def]
    """Closing the connection mid-stream stops the work: no request keeps its place."""
    body = {"model": "tts-1", "voice": "alloy", "input": " ".join(SENTENCES * 30)[:4096],
            "response_format": "pcm"}  # fmt: skip
    with httpx.stream("POST", f"{server.base_url}/v1/audio/speech", json=body) as response:
        assert response.status_code == 200
        chunks = response.iter_bytes()  # kept: dropping the iterator closes the response
        assert next(chunks)
        busy = httpx.get(f"{server.base_url}/ready").json()["workers"]["active_requests"]
        assert busy == 1
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        workers = httpx.get(f"{server.base_url}/ready").json()["workers"]
        if workers["active_requests"] == 0:
            break
        time.sleep(0.05)
    assert workers["active_requests"] == 0, workers
