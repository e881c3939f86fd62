"""Times of what is heard in a recording whose long silences were taken out before recognition:
the joined speech's times back in the recording's, and a segment whisper starts (or ends) in
the silence that pads a span placed on the side of the join where its words are."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stepaudio_api.audio.decode import decode_audio
from stepaudio_api.engines.base import Segment
from stepaudio_api.serving.hearing import PAD_SAMPLES, find_speech

RATE = 16000


def _segment(start: float, end: float) -> Segment:
    return Segment(0, 0, start, end, "words", [], 0.0, -0.2, 1.2, 0.01)


def test_segments_are_put_on_the_side_of_the_join_their_words_are() -> None:
    jfk = decode_audio((Path(__file__).parent / "data" / "en_jfk.flac").read_bytes()).samples
    recording = np.concatenate([jfk, np.zeros(RATE * 8, np.float32), jfk])
    speech = find_speech(recording)
    assert len(speech.spans) >= 2 and not speech.whole
    join_index = next(i for i, (s, _e) in enumerate(speech.spans) if s >= len(jfk))
    join = speech.joined_ends[join_index - 1]  # where the gap was, in the joined speech
    second_starts = speech.spans[join_index][0] / RATE  # in the recording
    first_ends = speech.spans[join_index - 1][1] / RATE
    at = join / RATE
    pad = PAD_SAMPLES / RATE

    # started in the silence before the join, words after it: after the gap
    moved = speech.restore(_segment(at - pad / 2, at + 2.0))
    assert moved.start == round(second_starts, 3) and moved.start >= len(jfk) / RATE + 7.5
    assert abs(moved.end - (second_starts + 2.0)) < 0.01
    # ended in the silence after the join, words before it: before the gap
    moved = speech.restore(_segment(at - 2.0, at + pad / 2))
    assert moved.end == round(first_ends, 3) and moved.end <= len(jfk) / RATE + 0.5
    # speech on both sides: the segment spans the gap, as it did
    across = speech.restore(_segment(at - 1.0, at + 1.0))
    assert across.start < first_ends < second_starts < across.end
    # and far from the join, a time is only moved by what was taken out before it
    later = speech.restore(_segment(at + 1.0, at + 1.5))
    assert abs(later.start - (second_starts + 1.0)) < 0.002
