"""POST /v1/audio/transcriptions and /translations through the openai SDK, on real recordings."""

from __future__ import annotations

import io
import itertools
import json

import av
import httpx
import numpy as np
import openai
import pytest
import srt
import webvtt
from audio_checks import JFK, word_error_rate
from test_multilingual import RECORDINGS, character_error_rate

ASR = "step-audio-asr"
"""English and fast: the model for tests that need no other language."""


def jfk(testdata):  # type: ignore[no-untyped-def]
    return (testdata / "en_jfk.flac").open("rb")


def test_jfk_stereo_24bit_flac_transcribes(client: openai.OpenAI, testdata) -> None:  # type: ignore[no-untyped-def]
    result = client.audio.transcriptions.create(model=ASR, file=jfk(testdata))
    assert word_error_rate(JFK, result.text) <= 0.10, result.text
    assert result.usage is not None and abs(result.usage.seconds - 11.0) < 0.1


def test_whisper_1_is_multilingual_and_detects_the_language(client, testdata) -> None:  # type: ignore[no-untyped-def]
    """As OpenAI's: whisper-1 (and gpt-4o-transcribe ...) hear any language, found by itself."""
    english = client.audio.transcriptions.create(
        model="whisper-1", file=jfk(testdata), response_format="verbose_json"
    )
    assert english.language == "english" and word_error_rate(JFK, english.text) <= 0.10
    mandarin = client.audio.transcriptions.create(
        model="whisper-1", file=(testdata / "zh_tingting_prompt.wav").open("rb"),
        response_format="verbose_json",
    )  # fmt: skip
    assert mandarin.language == "chinese", mandarin
    reference = RECORDINGS["zh_tingting_prompt.wav"]
    assert character_error_rate(reference, mandarin.text) <= 0.25, mandarin.text


def test_openai_names_and_which_model_each_is(client: openai.OpenAI) -> None:
    models = {m.id: m.model_dump() for m in client.models.list().data}
    for name in ("whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe", "gpt-transcribe",
                 "gpt-realtime-whisper", "gpt-live-transcribe"):  # fmt: skip
        assert models[name]["alias_of"] == "step-audio-asr-multilingual", name
        assert len(models[name]["capabilities"]["languages"]) == 99
    diarize = models["gpt-4o-transcribe-diarize"]
    assert diarize["alias_of"] == "step-audio-asr-diarize"
    assert diarize["capabilities"]["diarization"] is True
    assert len(diarize["capabilities"]["languages"]) == 99
    assert models[ASR]["capabilities"]["languages"] == ["en"]
    assert models[ASR]["capabilities"]["diarization"] is False


def test_srt_and_vtt_are_valid_subtitles(client: openai.OpenAI, testdata) -> None:  # type: ignore[no-untyped-def]
    srt_text = client.audio.transcriptions.create(
        model=ASR, file=jfk(testdata), response_format="srt"
    )
    cues = list(srt.parse(srt_text))
    assert cues, srt_text
    for previous, cue in itertools.pairwise(cues):
        assert cue.start >= previous.end
    assert all(c.start < c.end for c in cues)
    assert cues[-1].end.total_seconds() <= 11.05
    assert word_error_rate(JFK, " ".join(c.content for c in cues)) <= 0.10

    vtt_text = client.audio.transcriptions.create(
        model=ASR, file=jfk(testdata), response_format="vtt"
    )
    captions = webvtt.from_buffer(io.StringIO(vtt_text)).captions
    assert len(captions) == len(cues)
    starts = [c.start_in_seconds for c in captions]
    assert starts == sorted(starts) and captions[-1].end_in_seconds <= 11.05


def test_verbose_json_with_word_timestamps(client: openai.OpenAI, testdata) -> None:  # type: ignore[no-untyped-def]
    result = client.audio.transcriptions.create(
        model=ASR,
        file=jfk(testdata),
        response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
    )
    assert result.language == "english"
    assert abs(result.duration - 11.0) < 0.05
    assert result.segments and result.words
    assert len(result.words) >= 20
    for word in result.words:
        assert 0.0 <= word.start <= word.end <= result.duration
    starts = [w.start for w in result.words]
    assert starts == sorted(starts)
    assert word_error_rate(JFK, " ".join(w.word for w in result.words)) <= 0.10
    segment_ids = [s.id for s in result.segments]
    assert segment_ids == list(range(len(segment_ids)))


def test_text_format_and_prompt_and_temperature(client: openai.OpenAI, testdata) -> None:  # type: ignore[no-untyped-def]
    text = client.audio.transcriptions.create(
        model=ASR, file=jfk(testdata), response_format="text",
        prompt="A speech by President Kennedy.", temperature=0.2,
    )  # fmt: skip
    assert isinstance(text, str) and word_error_rate(JFK, text) <= 0.15


def test_streaming_transcript_events(client: openai.OpenAI, testdata) -> None:  # type: ignore[no-untyped-def]
    events = list(client.audio.transcriptions.create(model=ASR, file=jfk(testdata), stream=True))
    deltas = [e for e in events if e.type == "transcript.text.delta"]
    assert len(deltas) >= 1 and events[-1].type == "transcript.text.done"
    assert "".join(d.delta for d in deltas).strip() == events[-1].text
    assert word_error_rate(JFK, events[-1].text) <= 0.10


def test_translation_to_english(client: openai.OpenAI, testdata) -> None:  # type: ignore[no-untyped-def]
    result = client.audio.translations.create(model="whisper-1", file=jfk(testdata))
    assert word_error_rate(JFK, result.text) <= 0.10


def test_any_container_rate_and_channels(client: openai.OpenAI, testdata) -> None:  # type: ignore[no-untyped-def]
    """Re-encode the recording as stereo 8 kHz Ogg Opus, 48 kHz AAC in MP4, 11 kHz 8-bit WAV."""
    with av.open(str(testdata / "en_jfk.flac")) as source:
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=44100)
        frames = [out for f in source.decode(audio=0) for out in resampler.resample(f)]
    targets = [
        ("ogg", "libopus", 8000, "a.opus"),
        ("mp4", "aac", 48000, "a.m4a"),
        ("wav", "pcm_u8", 11025, "a.wav"),
    ]
    for container_format, codec, rate, name in targets:
        buffer = io.BytesIO()
        with av.open(buffer, "w", format=container_format) as out:
            stream = out.add_stream(codec, rate=rate)
            stream.layout = "stereo"
            for frame in frames:
                frame.pts = None
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
        text = client.audio.transcriptions.create(model=ASR, file=(name, buffer.getvalue())).text
        assert word_error_rate(JFK, text) <= 0.10, (name, text)


def _status_and_error(call) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    with pytest.raises(openai.APIStatusError) as caught:
        call()
    body = caught.value.body
    assert isinstance(body, dict), body
    return caught.value.status_code, body


def _truncated_mp3() -> bytes:
    buffer = io.BytesIO()
    rate = 24000
    tone = (0.3 * np.sin(np.arange(rate * 4) / rate * 2 * np.pi * 220)).astype(np.float32)
    with av.open(buffer, "w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=rate)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(tone.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    data = buffer.getvalue()
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("name", "payload", "words"),
    [
        ("empty.wav", b"", "empty"),
        ("notes.wav", b"These are my meeting notes, not audio.\n" * 50, "not a recognised audio"),
        ("cut.mp3", _truncated_mp3(), "truncated"),
    ],
)
def test_bad_audio_gets_400(client: openai.OpenAI, name: str, payload: bytes, words: str) -> None:
    status, error = _status_and_error(
        lambda: client.audio.transcriptions.create(model=ASR, file=(name, payload))
    )
    assert status == 400 and error["param"] == "file" and words in error["message"], error
    assert client.models.list().data  # still serving


def test_unsupported_language_names_what_the_model_can_do(client, testdata) -> None:  # type: ignore[no-untyped-def]
    for model, language, can in ((ASR, "zh", "en"), ("whisper-1", "zz", "zh")):
        status, error = _status_and_error(
            lambda model=model, language=language: client.audio.transcriptions.create(
                model=model, file=jfk(testdata), language=language
            )
        )
        assert status == 400 and error["param"] == "language"
        assert f"'{language}'" in error["message"] and can in error["message"]


@pytest.mark.parametrize(
    ("kwargs", "status", "param"),
    [
        ({"model": "nope"}, 404, "model"),
        ({"model": "tts-1"}, 400, "model"),
        ({"response_format": "docx"}, 400, "response_format"),
        ({"temperature": 3}, 400, "temperature"),
        ({"timestamp_granularities": ["word"]}, 400, "timestamp_granularities"),
    ],
)
def test_bad_parameters(client, testdata, kwargs, status, param) -> None:  # type: ignore[no-untyped-def]
    arguments = {"model": ASR, "file": jfk(testdata), **kwargs}
    code, error = _status_and_error(lambda: client.audio.transcriptions.create(**arguments))
    assert (code, error["param"]) == (status, param), error


def test_oversize_upload_is_refused_before_it_is_read(client: openai.OpenAI, server) -> None:  # type: ignore[no-untyped-def]
    big = b"\0" * (30 * 1024 * 1024)
    status, error = _status_and_error(
        lambda: client.audio.transcriptions.create(model=ASR, file=("big.wav", big))
    )
    assert status == 413 and "limit" in error["message"]
    # a body just over the file limit but under the request limit is refused by size, too
    over = b"\0" * (25 * 1024 * 1024 + 10)
    status, error = _status_and_error(
        lambda: client.audio.transcriptions.create(model=ASR, file=("big.wav", over))
    )
    assert status == 413 and error["param"] == "file"
    assert client.models.list().data


def test_missing_file_and_wrong_content_type(server) -> None:  # type: ignore[no-untyped-def]
    url = f"{server.base_url}/v1/audio/transcriptions"
    response = httpx.post(url, data={"model": ASR})
    assert response.status_code == 400 and response.json()["error"]["param"] == "file"
    response = httpx.post(url, content=json.dumps({"model": ASR}),
                          headers={"content-type": "application/json"})  # fmt: skip
    assert response.status_code == 415
    assert "multipart/form-data" in response.json()["error"]["message"]


def flac_of(samples: np.ndarray, rate: int = 16000) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="flac") as out:
        stream = out.add_stream("flac", rate=rate)
        stream.layout = "mono"
        pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return buffer.getvalue()


def test_silence_is_not_heard_as_words(client: openai.OpenAI) -> None:
    """Ten minutes of silence (and of faint noise): whisper alone hears "You You You ..."; VAD
    finds no speech, so there is nothing to recognise."""
    rng = np.random.default_rng(7)
    hiss = rng.normal(0, 0.002, 16000 * 60).astype(np.float32)
    for name, samples in (("silence.flac", np.zeros(16000 * 600, np.float32)),
                          ("hiss.flac", hiss)):  # fmt: skip
        result = client.audio.transcriptions.create(
            model=ASR, file=(name, flac_of(samples)), response_format="verbose_json"
        )
        assert result.text == "" and result.segments == [], (name, result.text)
        assert abs(result.duration - len(samples) / 16000) < 0.1


def test_a_long_silence_inside_speech_keeps_the_recordings_times(client, testdata) -> None:  # type: ignore[no-untyped-def]
    from stepaudio_api.audio.decode import decode_audio

    speech = decode_audio((testdata / "en_jfk.flac").read_bytes(), 16000).samples
    gap = np.zeros(16000 * 8, np.float32)
    result = client.audio.transcriptions.create(
        model=ASR, file=("gap.flac", flac_of(np.concatenate([speech, gap, speech]))),
        response_format="verbose_json", timestamp_granularities=["segment"],
    )  # fmt: skip
    assert word_error_rate(f"{JFK} {JFK}", result.text) <= 0.10, result.text
    second = [s for s in result.segments if s.start >= len(speech) / 16000]
    # the second reading starts after the gap, as in the recording (not where the gap was cut)
    assert second and len(speech) / 16000 + 8 - 0.5 <= second[0].start, result.segments
    assert abs(result.duration - (2 * len(speech) + len(gap)) / 16000) < 0.1
