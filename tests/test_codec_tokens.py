"""Step-Audio's audio-token conventions: interleaving, ids, times and the LLM string form."""

from __future__ import annotations

import numpy as np
import pytest

from stepaudio_api.engines.codec import (
    AUDIO_TOKEN_BASE,
    SEMANTIC_BASE,
    AudioTokens,
    CodecTokenError,
    InterleavedStream,
    ids_to_text,
    is_audio_id,
    text_to_ids,
)


def tokens(n_linguistic: int, n_semantic: int, seed: int = 0) -> AudioTokens:
    rng = np.random.default_rng(seed)
    return AudioTokens(rng.integers(0, 1024, n_linguistic), rng.integers(0, 4096, n_semantic))


def test_interleaves_two_linguistic_then_three_semantic_per_group() -> None:
    audio = AudioTokens(np.array([1, 2, 3, 4]), np.array([10, 11, 12, 13, 14, 15]))
    assert audio.ids.tolist() == [
        AUDIO_TOKEN_BASE + 1, AUDIO_TOKEN_BASE + 2, SEMANTIC_BASE + 10, SEMANTIC_BASE + 11,
        SEMANTIC_BASE + 12, AUDIO_TOKEN_BASE + 3, AUDIO_TOKEN_BASE + 4, SEMANTIC_BASE + 13,
        SEMANTIC_BASE + 14, SEMANTIC_BASE + 15,
    ]  # fmt: skip
    assert audio.text().startswith("<audio_1><audio_2><audio_1034><audio_1035><audio_1036>")


def test_a_partial_group_is_left_out_as_step_audio_does() -> None:
    # 11 s: 183 vq02 codes and 275 vq06 codes make 91 whole groups (182 + 273)
    audio = tokens(183, 275)
    assert audio.groups == 91
    assert len(audio.ids) == 455
    assert audio.duration == pytest.approx(91 * 0.12)


def test_times_follow_each_codebook_rate() -> None:
    times = tokens(4, 6).times
    assert times.tolist() == pytest.approx([0, 0.06, 0, 0.04, 0.08, 0.12, 0.18, 0.12, 0.16, 0.20])


def test_from_ids_and_text_round_trip() -> None:
    audio = tokens(40, 60, seed=3)
    again = AudioTokens.from_ids(audio.ids)
    assert again.linguistic.tolist() == audio.linguistic.tolist()
    assert again.semantic.tolist() == audio.semantic.tolist()
    assert text_to_ids(audio.text()) == audio.ids.tolist()
    assert ids_to_text([AUDIO_TOKEN_BASE + 5119]) == "<audio_5119>"
    assert is_audio_id(AUDIO_TOKEN_BASE) and not is_audio_id(AUDIO_TOKEN_BASE + 5120)


@pytest.mark.parametrize(
    ("ids", "problem"),
    [
        ([AUDIO_TOKEN_BASE] * 4, "whole number of groups"),
        ([SEMANTIC_BASE] * 5, "first two places"),
        ([AUDIO_TOKEN_BASE] * 5, "last three places"),
        ([1, 2, 3, 4, 5], "first two places"),
    ],
)
def test_from_ids_refuses_what_is_not_an_interleaved_stream(ids: list[int], problem: str) -> None:
    with pytest.raises(CodecTokenError, match=problem):
        AudioTokens.from_ids(ids)


def test_text_to_ids_refuses_other_text() -> None:
    with pytest.raises(CodecTokenError):
        text_to_ids("<audio_1>hello<audio_2>")


def test_interleaved_stream_gives_whole_groups_as_both_codebooks_arrive() -> None:
    whole = tokens(30, 45, seed=7)
    stream = InterleavedStream()
    out: list[int] = []
    rng = np.random.default_rng(1)
    a = b = 0
    while a < 30 or b < 45:
        da, db = int(rng.integers(0, 4)), int(rng.integers(0, 5))
        out += stream.add(whole.linguistic[a : a + da], whole.semantic[b : b + db]).tolist()
        a, b = min(30, a + da), min(45, b + db)
    assert out == whole.ids.tolist()
    assert stream.tokens().linguistic.tolist() == whole.linguistic.tolist()
