"""The codec commands through a real process: tiny checkpoints, tokenize, detokenize, and the
errors a user meets (a missing file, a tensor of the wrong shape, an empty clip)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import pytest
from codec_checkpoints import JFK

RATE = 22050


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stepaudio_api", *args],
        capture_output=True, text=True, input=stdin, timeout=300,
        env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "HOME": "/tmp"},
    )  # fmt: skip


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    done = cli("dev", "tiny-checkpoints", str(folder), "--only", "tokenizer,tts")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        str(folder / "Step-Audio-Tokenizer"), str(folder / "Step-Audio-TTS-3B")
    ]  # fmt: skip
    return folder


def wav_seconds(path: Path) -> tuple[float, int]:
    with wave.open(str(path)) as audio:
        return audio.getnframes() / audio.getframerate(), audio.getframerate()


def test_tokenize_then_detokenize_round_trip(models: Path, tmp_path: Path) -> None:
    done = cli("codec", "tokenize", str(JFK), "--tokenizer", str(models / "Step-Audio-Tokenizer"))
    assert done.returncode == 0, done.stderr
    line = json.loads(done.stdout)
    assert line["file"] == str(JFK) and 180 <= len(line["linguistic"]) <= 186
    assert len(line["ids"]) == len(line["times"]) and len(line["ids"]) % 5 == 0
    tokens = tmp_path / "jfk.json"
    tokens.write_text(done.stdout)
    out = tmp_path / "jfk.wav"
    done = cli("codec", "detokenize", "--decoder", str(models / "Step-Audio-TTS-3B"),
               "--tokens", str(tokens), "-o", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    seconds, rate = wav_seconds(out)
    assert rate == RATE
    assert abs(seconds - len(line["semantic"]) // 3 * 3 / 25) <= 256 / RATE


def test_text_format_from_stdin_streaming_and_a_prompt(models: Path, tmp_path: Path) -> None:
    done = cli("codec", "tokenize", str(JFK), str(JFK), "--format", "text",
               "--tokenizer", str(models / "Step-Audio-Tokenizer"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2 and lines[0] == lines[1] and lines[0].startswith("<audio_")
    out = tmp_path / "cloned.wav"
    done = cli("codec", "detokenize", "--decoder", str(models / "Step-Audio-TTS-3B"),
               "--tokens", "-", "-o", str(out), "--stream", "--prompt-audio", str(JFK),
               "--prompt-text", "and so my fellow Americans",
               "--tokenizer", str(models / "Step-Audio-Tokenizer"), stdin=lines[0])  # fmt: skip
    assert done.returncode == 0, done.stderr
    seconds, _ = wav_seconds(out)
    assert abs(seconds - lines[0].count("<audio_") / 5 * 0.12) <= 256 / RATE


def test_a_missing_flow_checkpoint_is_named(models: Path, tmp_path: Path) -> None:
    broken = tmp_path / "Step-Audio-TTS-3B"
    shutil.copytree(models / "Step-Audio-TTS-3B", broken)
    (broken / "CosyVoice-300M-25Hz" / "flow.pt").unlink()
    tokens = tmp_path / "ids.txt"
    tokens.write_text(" ".join(["65536 65537 66560 66561 66562"] * 4))
    done = cli("codec", "detokenize", "--decoder", str(broken), "--tokens", str(tokens),
               "-o", str(tmp_path / "x.wav"))  # fmt: skip
    assert done.returncode == 1
    assert "CosyVoice-300M-25Hz/flow.pt: missing" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_wrong_shape_is_named(models: Path, tmp_path: Path) -> None:
    import numpy as np

    broken = tmp_path / "Step-Audio-Tokenizer"
    shutil.copytree(models / "Step-Audio-Tokenizer", broken)
    np.save(broken / "linguistic_tokenizer.npy", np.zeros((1024, 7), np.float32))
    done = cli("codec", "tokenize", str(JFK), "--tokenizer", str(broken))
    assert done.returncode == 1
    assert "linguistic_tokenizer.npy" in done.stderr and "Traceback" not in done.stderr


def test_an_empty_clip_and_bad_tokens_are_refused(models: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    with wave.open(str(empty), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
    done = cli("codec", "tokenize", str(empty), "--tokenizer", str(models / "Step-Audio-Tokenizer"))
    assert done.returncode == 1 and "empty.wav" in done.stderr and "Traceback" not in done.stderr
    done = cli("codec", "detokenize", "--decoder", str(models / "Step-Audio-TTS-3B"),
               "--tokens", "-", "-o", str(tmp_path / "y.wav"), stdin="1 2 3 4 5")  # fmt: skip
    assert done.returncode == 1 and "linguistic" in done.stderr
