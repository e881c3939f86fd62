"""Built-in speakers as Step-Audio ships them: ``speakers/speakers_info.json`` (speaker id to
the transcript of its prompt clip) beside ``{id}_prompt.wav``; ``{id}RAP`` and ``{id}哼唱``
are the same speaker's clips for RAP and humming. Every voice reaches the model as a prompt."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stepaudio_api.engines.base import EngineNotConfigured

MUSIC_SUFFIXES = ("RAP", "哼唱")


@dataclass(frozen=True, slots=True)
class SpeakerClip:
    speaker: str
    transcript: str
    path: Path


def read_speakers(folder: Path) -> dict[str, SpeakerClip]:
    """Every clip of ``folder`` by id (``Tingting``, ``TingtingRAP``, ...)."""
    info = folder / "speakers_info.json"
    try:
        entries = json.loads(info.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise EngineNotConfigured(
            f"{info}: unreadable ({error}); expected {{speaker id: prompt transcript}} beside "
            "{id}_prompt.wav files, as Step-Audio's speakers/ folder"
        ) from None
    clips: dict[str, SpeakerClip] = {}
    for speaker, transcript in entries.items():
        path = folder / f"{speaker}_prompt.wav"
        if not path.is_file():
            raise EngineNotConfigured(f"{path}: missing file (the prompt clip {info} names)")
        clips[speaker] = SpeakerClip(speaker, str(transcript), path)
    return clips


def voice_names(clips: dict[str, SpeakerClip]) -> list[str]:
    """The speakers a client may name: the clips that are not a music variant of another."""
    return [
        name
        for name in clips
        if not any(name.endswith(s) and name[: -len(s)] in clips for s in MUSIC_SUFFIXES)
    ]


def clip_for(clips: dict[str, SpeakerClip], voice: str, music_tag: str) -> SpeakerClip:
    """The speaker's clip for the mode: its RAP / 哼唱 clip when it has one."""
    if music_tag and f"{voice}{music_tag}" in clips:
        return clips[f"{voice}{music_tag}"]
    return clips[voice]


def load_clip(path: Path) -> tuple[np.ndarray, int]:
    """Mono float32 samples and their rate (any rate, depth or channel count)."""
    import soundfile

    samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    return samples.mean(axis=1), int(rate)
