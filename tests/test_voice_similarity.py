"""Voice similarity, as a cloned voice's preview is scored: one speaker's recordings are alike
and two speakers' are not, whatever the rate, the silence around the speech or the format the
preview was sent in."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stepaudio_api.audio.decode import decode_audio
from stepaudio_api.audio.encode import AudioEncoder
from stepaudio_api.audio.reference_clip import samples_to_flac
from stepaudio_api.serving.voice_preview import preview_similarity
from stepaudio_api.speakers.similarity import voice_similarity

TESTDATA = Path(__file__).parent / "data"


def recording(name: str, rate: int = 16000) -> np.ndarray:
    return decode_audio((TESTDATA / name).read_bytes(), rate).samples


def test_one_speaker_is_alike_and_two_are_not() -> None:
    jfk = recording("en_jfk.flac")
    early, late = (jfk[: 16000 * 5], 16000), (jfk[16000 * 5 :], 16000)
    yuqian = (recording("zh_yuqian_prompt.wav"), 16000)
    tingting = (recording("zh_tingting_prompt.wav"), 16000)
    same = voice_similarity(early, late)
    assert same > 0.75, same
    for other in (yuqian, tingting):
        assert voice_similarity(early, other) < 0.75 < same
    assert voice_similarity(early, yuqian) == pytest.approx(voice_similarity(yuqian, early))


def test_rate_and_silence_around_the_speech_leave_the_figure() -> None:
    at_16k = recording("zh_tingting_prompt.wav")
    at_24k = recording("zh_tingting_prompt.wav", 24000)
    rng = np.random.default_rng(3)
    hiss = rng.normal(0, 0.003, 24000 * 3).astype(np.float32)  # 3 s of quiet room each side
    padded = np.concatenate([hiss, at_24k, hiss])
    plain = voice_similarity((at_16k, 16000), (at_24k, 24000))
    assert plain > 0.98
    assert voice_similarity((at_16k, 16000), (padded, 24000)) > 0.97


@pytest.mark.parametrize("response_format", ["mp3", "opus", "flac", "wav", "pcm"])
def test_a_preview_is_scored_in_any_format_it_was_sent_in(response_format: str) -> None:
    reference = recording("zh_yuqian_prompt.wav", 24000)
    spoken = recording("zh_tingting_prompt.wav", 24000)
    encoder = AudioEncoder(response_format, 24000, 24000)
    preview = encoder.encode(spoken) + encoder.finish()
    figure = preview_similarity(samples_to_flac(reference, 24000), preview, response_format)
    expected = voice_similarity((reference, 24000), (spoken, 24000))
    assert abs(figure - expected) < 0.03, (figure, expected)
    assert figure < 0.75  # a woman and a man: not the same voice
