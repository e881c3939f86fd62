"""Tiny checkpoints in the released layouts, written once per test module that asks."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stepaudio_api.audio.decode import decode_audio

REPOSITORY = Path(__file__).resolve().parents[3]
JFK = REPOSITORY / "tests" / "data" / "en_jfk.flac"


def jfk(sample_rate: int = 16000) -> np.ndarray:
    return decode_audio(JFK.read_bytes(), sample_rate).samples


def write_codec_folders(directory: Path, seed: int = 0) -> tuple[Path, Path]:
    """Step-Audio-Tokenizer/ and Step-Audio-TTS-3B/ (tiny), as (tokenizer_dir, decoder_dir)."""
    from stepaudio_codec.tiny import write_tiny_checkpoints

    write_tiny_checkpoints(directory, seed=seed, only=("tokenizer", "tts"))
    return directory / "Step-Audio-Tokenizer", directory / "Step-Audio-TTS-3B"
