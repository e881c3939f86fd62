"""OpenAI's further transcription fields through the SDK: include[]=logprobs, chunking_strategy
(auto, server_vad), known_speaker_*; and audio under 0.1 s refused as OpenAI refuses it."""

from __future__ import annotations

import io
import math
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import openai
import pytest
from audio_checks import JFK, word_error_rate
from conftest import TESTDATA

from stepaudio_api.testing import TestServer, running_server

ASR = "step-audio-asr"
VAD = "chunking_strategy"


def jfk() -> Any:
    return (TESTDATA / "en_jfk.flac").open("rb")


def refusal(call: Any) -> tuple[int, dict[str, Any]]:
    with pytest.raises(openai.APIStatusError) as caught:
        call()
    assert isinstance(caught.value.body, dict), caught.value.body
    return caught.value.status_code, caught.value.body


def test_logprobs_one_per_word_with_json(client: openai.OpenAI) -> None:
    result = client.audio.transcriptions.create(model=ASR, file=jfk(), include=["logprobs"])
    assert word_error_rate(JFK, result.text) <= 0.10, result.text
    logprobs = result.logprobs or []
    assert len(logprobs) >= 20  # the 22 words
    assert "".join(p.token or "" for p in logprobs).strip() == result.text
    for p in logprobs:
        assert p.logprob is not None and p.logprob <= 0.0
        assert p.bytes == list((p.token or "").encode()), p
    # clear speech: the model is sure of most words
    assert np.mean([math.exp(p.logprob or 0.0) for p in logprobs]) > 0.7
    plain = client.audio.transcriptions.create(model=ASR, file=jfk())
    assert plain.logprobs is None


def test_logprobs_in_the_events_of_a_stream(client: openai.OpenAI) -> None:
    events = list(client.audio.transcriptions.create(model=ASR, file=jfk(), stream=True,
                                                     include=["logprobs"]))  # fmt: skip
    deltas = [e for e in events if e.type == "transcript.text.delta"]
    done = events[-1]
    assert done.type == "transcript.text.done" and done.logprobs
    assert [p.token for d in deltas for p in d.logprobs or []] == [p.token for p in done.logprobs]


def test_include_works_only_with_json(client: openai.OpenAI) -> None:
    for response_format in ("verbose_json", "text", "srt"):
        status, error = refusal(lambda f=response_format: client.audio.transcriptions.create(
            model=ASR, file=jfk(), include=["logprobs"], response_format=f))  # fmt: skip
        assert (status, error["param"]) == (400, "include"), error
        assert "'json'" in error["message"]


@pytest.fixture(scope="module")
def two_recognizers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestServer]:
    engines = ["whisper-tiny-en", "whisper-base"]
    with running_server(tmp_path_factory.mktemp("logprobs"), None, engines) as server:
        yield server


def test_a_model_without_logprobs_names_those_with_them(two_recognizers: TestServer) -> None:
    """An engine that does not give them (whisper base, told so here) is refused by name."""
    base = two_recognizers.services.engines.engines["whisper-base"]
    client = openai.OpenAI(base_url=f"{two_recognizers.base_url}/v1", api_key="sk-test",
                           max_retries=0)  # fmt: skip
    base.gives_logprobs = False
    try:
        status, error = refusal(lambda: client.audio.transcriptions.create(
            model="whisper-1", file=jfk(), include=["logprobs"]))  # fmt: skip
    finally:
        base.gives_logprobs = True
    assert (status, error["param"]) == (400, "include"), error
    assert "'whisper-1'" in error["message"] and "step-audio-asr" in error["message"]
    assert "step-audio-asr-multilingual" not in error["message"]


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        (ASR, "known_speaker_names", ["agent"]),
        ("whisper-1", "known_speaker_references", ["data:audio/wav;base64,AA"]),
    ],
)
def test_known_speakers_need_a_diarizing_model(client, model, field, value) -> None:  # type: ignore[no-untyped-def]
    status, error = refusal(lambda: client.audio.transcriptions.create(
        model=model, file=jfk(), **{field: value}))  # fmt: skip
    assert (status, error["param"]) == (400, field), error
    assert f"{field}[]" in error["message"] and "diariz" in error["message"]
    assert "step-audio-asr-diarize" in error["message"]  # the models that do


def silent_wav(seconds: float) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(np.zeros(round(16000 * seconds), np.int16).tobytes())
    return buffer.getvalue()


def test_audio_under_a_tenth_of_a_second_is_too_short(client: openai.OpenAI) -> None:
    short = ("short.wav", silent_wav(0.05))
    calls = (lambda: client.audio.transcriptions.create(model=ASR, file=short),
             lambda: client.audio.translations.create(model="whisper-1", file=short))  # fmt: skip
    for call in calls:
        status, error = refusal(call)
        assert (status, error["code"], error["param"]) == (400, "audio_too_short", "file"), error
        assert "0.1 seconds" in error["message"]
    enough = client.audio.transcriptions.create(model=ASR, file=("a.wav", silent_wav(0.1)))
    assert enough.text == ""


@pytest.mark.parametrize(
    ("strategy", "param"),
    [
        ("manual", "chunking_strategy"),
        ({"type": "client_vad"}, "chunking_strategy.type"),
        ({"type": "server_vad", "threshold": 1.5}, "chunking_strategy.threshold"),
        ({"type": "server_vad", "threshold": "loud"}, "chunking_strategy.threshold"),
        (
            {"type": "server_vad", "silence_duration_ms": -1},
            "chunking_strategy.silence_duration_ms",
        ),
        (
            {"type": "server_vad", "prefix_padding_ms": 20_000},
            "chunking_strategy.prefix_padding_ms",
        ),
        ({"type": "server_vad", "eagerness": "high"}, "chunking_strategy[eagerness]"),
    ],
)
def test_bad_chunking_strategies_name_the_field(client, strategy, param) -> None:  # type: ignore[no-untyped-def]
    status, error = refusal(lambda: client.audio.transcriptions.create(
        model=ASR, file=jfk(), chunking_strategy=strategy))  # fmt: skip
    assert (status, error["param"]) == (400, param), error


def segments(client: openai.OpenAI, strategy: Any) -> list[Any]:
    result = client.audio.transcriptions.create(
        model=ASR, file=jfk(), response_format="verbose_json", chunking_strategy=strategy,
        timestamp_granularities=["segment", "word"],
    )  # fmt: skip
    assert [s.id for s in result.segments] == list(range(len(result.segments)))
    starts = [s.start for s in result.segments]
    assert starts == sorted(starts) and all(s.start < s.end for s in result.segments)
    words = [w.start for w in result.words or []]
    assert words == sorted(words), words
    return result.segments


def test_server_vad_cuts_at_its_pauses_and_its_settings_move_the_cuts(client) -> None:  # type: ignore[no-untyped-def]
    """JFK pauses after "Americans" (0.7 s), "ask not" (0.8 s) and "for you" (0.3 s): each
    pause of silence_duration_ms starts a piece, heard on its own, that begins
    prefix_padding_ms before its speech; a higher threshold hears only the louder words."""
    whole = segments(client, "auto")  # 11 s: one piece, whisper's own segments
    turns = segments(client, {"type": "server_vad"})  # threshold 0.5, 300 ms, 500 ms
    text = " ".join(s.text for s in turns)
    assert word_error_rate(JFK, text) <= 0.25, text
    assert len(turns) >= 4 > len(whole), (turns, whole)
    # the pieces begin where the speech after each pause does, less 300 ms
    assert [round(s.start) for s in turns[:4]] == [0, 3, 5, 8], turns
    eager = segments(client, {"type": "server_vad", "silence_duration_ms": 200})
    assert len(eager) > len(turns)
    # no pause is 3 s long: one piece, as whisper segments it (one or two segments, by CPU)
    patient = segments(client, {"type": "server_vad", "silence_duration_ms": 3000})
    assert (
        len(patient) < len(turns)
        and word_error_rate(JFK, " ".join(s.text for s in patient)) <= 0.25
    )
    unpadded = segments(client, {"type": "server_vad", "prefix_padding_ms": 0})
    assert unpadded[0].start == pytest.approx(turns[0].start + 0.3, abs=0.05)
    strict = segments(client, {"type": "server_vad", "threshold": 0.9})
    assert strict[0].start > 5.0 and "americans" not in " ".join(s.text for s in strict).lower()


def test_continuous_speech_is_cut_at_its_longest_at_a_quiet_moment() -> None:
    """A piece holds at most a minute: 1.3 minutes of speech without a 2 s pause are cut once,
    at the quietest window of the last 10 s, and nothing is lost between the pieces."""
    from stepaudio_api.audio.decode import decode_audio
    from stepaudio_api.serving.audio_pieces import WHOLE, cut_into_pieces

    speech = decode_audio((Path(TESTDATA) / "en_jfk.flac").read_bytes(), 16000).samples
    reading = np.concatenate([speech, np.zeros(4800, np.float32)])
    recording = np.tile(reading, 7)
    blocks = np.array_split(recording, len(recording) // 4096)
    pieces = list(cut_into_pieces(blocks, WHOLE, len(recording) / 16000))
    assert len(pieces) == 2, [(p.start, len(p.samples)) for p in pieces]
    first, second = pieces
    cut = first.start + len(first.samples)
    assert 50 * 16000 <= cut <= 60 * 16000 and second.start == cut
    # the cut falls where the recording is quiet (a pause, not a word): a tenth of its loudness
    # (the 1961 recording's pauses hiss at 0.011-0.015; its words run 0.05-0.4)
    loudness = np.sqrt(np.mean(recording**2))
    assert np.sqrt(np.mean(recording[cut - 256 : cut + 256] ** 2)) < 0.1 * loudness
    assert np.array_equal(np.concatenate([first.samples, second.samples]),
                          recording[first.start : second.start + len(second.samples)])  # fmt: skip
