"""The emotion approximation's filters: pitch, rate and gain, streamed in chunks."""

from __future__ import annotations

import numpy as np
import pytest

from stepaudio_api.audio.prosody import (
    FULL_STRENGTH,
    NEUTRAL,
    Prosody,
    ProsodyShaper,
    prosody_for,
)

RATE = 22050


def tone(frequency: float, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def shaped(samples: np.ndarray, tempo: float, prosody: Prosody) -> np.ndarray:
    shaper = ProsodyShaper(RATE, tempo, prosody)
    pieces = [shaper.process(samples[i : i + 1000]) for i in range(0, len(samples), 1000)]
    return np.concatenate([*pieces, shaper.finish()])


def main_frequency(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * RATE / len(samples))


@pytest.mark.parametrize(
    ("tempo", "prosody"),
    [
        (1.0, Prosody(3.0, 1.2, 0.0)),
        (1.0, Prosody(-3.0, 0.8, 0.0)),
        (2.0, Prosody(1.5, 1.0, 0.0)),
        (0.5, Prosody(2.0, 0.9, 0.0)),
    ],
)
def test_pitch_and_duration(tempo: float, prosody: Prosody) -> None:
    out = shaped(tone(200, 2.0), tempo, prosody)
    assert out.dtype == np.float32
    expected_seconds = 2.0 / (tempo * prosody.rate)
    assert abs(len(out) / RATE - expected_seconds) < 0.03 * expected_seconds
    expected_hz = 200 * 2 ** (prosody.pitch_semitones / 12)
    assert abs(main_frequency(out) - expected_hz) < 0.02 * expected_hz


def test_gain_is_louder_without_clipping() -> None:
    source = tone(200, 1.0, amplitude=0.9)
    out = shaped(source, 1.0, Prosody(gain_db=6.0))
    assert float(np.max(np.abs(out))) <= 0.96
    assert np.sqrt(np.mean(out**2)) > np.sqrt(np.mean(source**2)) * 1.02
    quiet = shaped(source, 1.0, Prosody(gain_db=-6.0))
    assert abs(np.sqrt(np.mean(quiet**2)) / np.sqrt(np.mean(source**2)) - 0.5) < 0.02


def test_intensity_moves_every_effect_monotonically() -> None:
    assert prosody_for(None, 5) == NEUTRAL
    for emotion, full in FULL_STRENGTH.items():
        steps = [prosody_for(emotion, i) for i in range(1, 6)]
        assert steps[-1] == full
        for attribute in ("pitch_semitones", "gain_db"):
            values = [0.0] + [getattr(s, attribute) for s in steps]
            assert values == sorted(values) or values == sorted(values, reverse=True)
        rates = [1.0] + [s.rate for s in steps]
        assert rates == sorted(rates) or rates == sorted(rates, reverse=True)
