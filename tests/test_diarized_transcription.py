"""gpt-4o-transcribe-diarize through the SDK: a conversation made of two recordings is told
apart into its two speakers at the right times (diarization error rate under 15%), known
speakers' references name them, one voice is one speaker, and what OpenAI refuses is
refused."""

from __future__ import annotations

import base64
import itertools
from pathlib import Path

import numpy as np
import openai
import pytest
from audio_checks import JFK, word_error_rate

from stepaudio_api.audio.decode import decode_audio
from stepaudio_api.audio.reference_clip import samples_to_wav

TESTDATA = Path(__file__).parent / "data"
MODEL = "gpt-4o-transcribe-diarize"


def recording(name: str) -> np.ndarray:
    return decode_audio((TESTDATA / name).read_bytes(), 16000).samples


def conversation() -> tuple[bytes, list[tuple[float, float, str]]]:
    """Kennedy, a second's pause, then a Mandarin speaker (both men): the wav, and who speaks
    when."""
    jfk, yuqian = recording("en_jfk.flac"), recording("zh_yuqian_prompt.wav")
    pause = np.zeros(16000, np.float32)
    truth = [(0.0, len(jfk) / 16000, "kennedy"),
             ((len(jfk) + len(pause)) / 16000, (len(jfk) + len(pause) + len(yuqian)) / 16000,
              "yuqian")]  # fmt: skip
    return samples_to_wav(np.concatenate([jfk, pause, yuqian]), 16000), truth


def data_url(samples: np.ndarray) -> str:
    return "data:audio/wav;base64," + base64.b64encode(samples_to_wav(samples, 16000)).decode()


def diarization_error_rate(truth: list[tuple[float, float, str]],
                           found: list[tuple[float, float, str]]) -> float:  # fmt: skip
    """Missed speech, false alarms and confused speakers over the reference speech, in 10 ms
    frames, under the best mapping of found labels to true ones (no collar)."""
    end = max(t[1] for t in truth + found)
    frames = int(end * 100) + 1

    def track(turns: list[tuple[float, float, str]]) -> list[str | None]:
        labels: list[str | None] = [None] * frames
        for start, stop, who in turns:
            for i in range(int(start * 100), min(int(stop * 100), frames)):
                labels[i] = who
        return labels

    ref, hyp = track(truth), track(found)
    speech = sum(r is not None for r in ref)
    names, found_names = sorted({t[2] for t in truth}), sorted({t[2] for t in found})
    best = float("inf")
    for chosen in itertools.permutations(names + [None] * len(found_names), len(found_names)):
        mapping = dict(zip(found_names, chosen, strict=True))
        errors = sum(
            1 for r, h in zip(ref, hyp, strict=True)
            if (r is None) != (h is None) or (r is not None and mapping[h] != r)
        )  # fmt: skip
        best = min(best, errors)
    return best / speech


def test_a_conversation_is_told_apart_into_its_two_speakers(client: openai.OpenAI) -> None:
    audio, truth = conversation()
    result = client.audio.transcriptions.create(
        model=MODEL, file=("conversation.wav", audio), response_format="diarized_json"
    )
    assert result.task == "transcribe" and result.duration == pytest.approx(truth[-1][1], abs=0.05)
    assert result.usage is not None and result.usage.type == "duration"
    speakers = [s.speaker for s in result.segments]
    assert set(speakers) == {"A", "B"} and speakers[0] == "A", speakers
    assert all(s.type == "transcript.text.segment" and s.id for s in result.segments)
    found = [(s.start, s.end, s.speaker) for s in result.segments]
    der = diarization_error_rate(truth, found)
    print(f"diarization error rate {der:.3f}")
    assert der < 0.15, (der, found)
    kennedy = " ".join(s.text for s in result.segments if s.speaker == "A")
    assert word_error_rate(JFK, kennedy) <= 0.25, kennedy
    assert result.text.startswith(result.segments[0].text)


def test_known_speaker_references_name_them(client: openai.OpenAI) -> None:
    audio, truth = conversation()
    jfk, yuqian = recording("en_jfk.flac"), recording("zh_yuqian_prompt.wav")
    result = client.audio.transcriptions.create(
        model=MODEL, file=("conversation.wav", audio), response_format="diarized_json",
        extra_body={"known_speaker_names": ["yuqian", "kennedy"],
                    "known_speaker_references": [data_url(yuqian[: 16000 * 4]),
                                                 data_url(jfk[16000 * 5 : 16000 * 9])]},
    )  # fmt: skip
    found = [(s.start, s.end, s.speaker) for s in result.segments]
    assert {s for *_, s in found} == {"kennedy", "yuqian"}, found
    assert diarization_error_rate(truth, found) < 0.15, found
    assert found[0][2] == "kennedy" and found[-1][2] == "yuqian"


def test_one_voice_is_one_speaker(client: openai.OpenAI) -> None:
    result = client.audio.transcriptions.create(
        model=MODEL, file=("jfk.flac", (TESTDATA / "en_jfk.flac").read_bytes()),
        response_format="diarized_json",
    )  # fmt: skip
    assert {s.speaker for s in result.segments} == {"A"}
    assert word_error_rate(JFK, result.text) <= 0.10, result.text


def test_diarized_segments_stream_as_events(client: openai.OpenAI) -> None:
    audio, _ = conversation()
    events = list(client.audio.transcriptions.create(
        model=MODEL, file=("conversation.wav", audio), response_format="diarized_json",
        stream=True,
    ))  # fmt: skip
    kinds = [e.type for e in events]
    assert kinds[-1] == "transcript.text.done" and "transcript.text.segment" in kinds
    segments = [e for e in events if e.type == "transcript.text.segment"]
    deltas = [e for e in events if e.type == "transcript.text.delta"]
    assert {s.speaker for s in segments} == {"A", "B"}
    assert [d.segment_id for d in deltas] == [s.id for s in segments]
    assert [s.start for s in segments] == sorted(s.start for s in segments)


def test_what_diarization_needs_is_checked(client: openai.OpenAI) -> None:
    audio, _ = conversation()
    jfk = recording("en_jfk.flac")

    def refused(param: str, **fields: object) -> str:
        with pytest.raises(openai.BadRequestError) as caught:
            client.audio.transcriptions.create(file=("c.wav", audio), **fields)  # type: ignore[call-overload]
        body = caught.value.body
        assert isinstance(body, dict) and body["param"] == param, body
        return str(body["message"])

    assert "step-audio-asr-diarize" in refused(
        "response_format", model="step-audio-asr", response_format="diarized_json"
    )
    assert "same length" in refused(
        "known_speaker_references",
        model=MODEL,
        response_format="diarized_json",
        extra_body={
            "known_speaker_names": ["a", "b"],
            "known_speaker_references": [data_url(jfk[: 16000 * 3])],
        },
    )
    assert "2 to 10 seconds" in refused(
        "known_speaker_references",
        model=MODEL,
        extra_body={
            "known_speaker_names": ["a"],
            "known_speaker_references": [data_url(jfk[:8000])],
        },
    )
    assert "data URL" in refused(
        "known_speaker_references",
        model=MODEL,
        extra_body={"known_speaker_names": ["a"], "known_speaker_references": ["https://x/a.wav"]},
    )
    long = samples_to_wav(np.tile(jfk, 3), 16000)
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.transcriptions.create(model=MODEL, file=("long.wav", long))
    assert caught.value.body["param"] == "chunking_strategy"  # type: ignore[index]
    result = client.audio.transcriptions.create(model=MODEL, file=("long.wav", long),
                                                chunking_strategy="auto",
                                                response_format="diarized_json")  # fmt: skip
    assert {s.speaker for s in result.segments} == {"A"}
    assert word_error_rate(f"{JFK} {JFK} {JFK}", result.text) <= 0.15, result.text
