"""Emotion approximated for engines that cannot act it: pitch, rate and energy, streamed
through ffmpeg filters (PyAV). This build of ffmpeg has no rubberband, so pitch moves by
resampling (asetrate + aresample, which also moves formants a little) and atempo gives the
duration back; a limiter keeps raised gain from clipping."""

from __future__ import annotations

from dataclasses import dataclass

from stepaudio_api.audio.tempo import AudioFilterChain, atempo_stages


@dataclass(frozen=True, slots=True)
class Prosody:
    pitch_semitones: float = 0.0
    rate: float = 1.0
    """Speaking rate factor: 1.2 speaks in 1/1.2 of the time."""
    gain_db: float = 0.0


NEUTRAL = Prosody()

FULL_STRENGTH: dict[str, Prosody] = {
    # each emotion at intensity 5; raised pitch, quicker and louder for arousal, lower, slower
    # and quieter for sadness (the direction the speech-emotion literature measures)
    "happy": Prosody(pitch_semitones=3.0, rate=1.2, gain_db=2.0),
    "sad": Prosody(pitch_semitones=-3.0, rate=0.8, gain_db=-4.0),
    "angry": Prosody(pitch_semitones=1.5, rate=1.15, gain_db=6.0),
    "coy": Prosody(pitch_semitones=2.5, rate=0.9, gain_db=-2.0),
}


def intensity_share(intensity: int) -> float:
    """How much of the full effect an intensity of 1-5 gets: 0.4, 0.55, 0.7, 0.85, 1.0. Even
    intensity 1 is a clear step from neutral; each step after it is the same size."""
    return 0.4 + 0.15 * (intensity - 1)


def prosody_for(emotion: str | None, intensity: int) -> Prosody:
    if emotion is None:
        return NEUTRAL
    full = FULL_STRENGTH[emotion]
    share = intensity_share(intensity)
    return Prosody(full.pitch_semitones * share, full.rate**share, full.gain_db * share)


def prosody_stages(sample_rate: int, tempo: float, prosody: Prosody) -> list[tuple[str, str]]:
    """Filters that speak ``tempo * prosody.rate`` times faster at the prosody's pitch and gain."""
    tempo *= prosody.rate
    stages: list[tuple[str, str]] = []
    if prosody.pitch_semitones:
        # playing the samples at a higher rate raises pitch and tempo by the same factor;
        # resampling back keeps the output rate, and atempo takes the tempo change out again
        factor = 2 ** (prosody.pitch_semitones / 12)
        shifted_rate = round(sample_rate * factor)
        stages += [("asetrate", str(shifted_rate)), ("aresample", str(sample_rate))]
        tempo /= shifted_rate / sample_rate
    stages += atempo_stages(tempo)
    if prosody.gain_db:
        stages.append(("volume", f"{prosody.gain_db:.2f}dB"))
        if prosody.gain_db > 0:
            stages.append(("alimiter", "limit=0.95:level=false"))
    return stages


class ProsodyShaper(AudioFilterChain):
    """Mono float32 chunks in; out at ``tempo`` times the speed with the prosody's pitch and
    gain applied (``tempo`` is the request's speed where the engine does not do it itself)."""

    def __init__(self, sample_rate: int, tempo: float, prosody: Prosody) -> None:
        super().__init__(sample_rate, prosody_stages(sample_rate, tempo, prosody))
