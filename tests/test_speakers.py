"""The speaker encoder, against the libraries it follows: its weights read without torch equal
torch.load's, its mel spectrogram librosa's, its embeddings Resemblyzer's own VoiceEncoder's;
and the diarization of real recordings, the number of speakers found."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stepaudio_api.audio.decode import decode_audio
from stepaudio_api.serving.hearing import find_speech
from stepaudio_api.speakers.book import SpeakerBook
from stepaudio_api.speakers.diarization import diarize
from stepaudio_api.speakers.encoder import SpeakerEncoder, mel_spectrogram, weights_path
from stepaudio_api.speakers.legacy_checkpoint import CheckpointError, load_legacy_checkpoint

TESTDATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def encoder() -> SpeakerEncoder:
    return SpeakerEncoder()


def recording(name: str) -> np.ndarray:
    return decode_audio((TESTDATA / name).read_bytes(), 16000).samples


def test_the_checkpoint_is_read_as_torch_reads_it() -> None:
    import torch

    with open(weights_path(), "rb") as file:
        ours = load_legacy_checkpoint(file)["model_state"]
    theirs = torch.load(weights_path(), map_location="cpu")["model_state"]
    assert set(ours) == set(theirs) and len(ours) == 16
    for name, tensor in theirs.items():
        assert ours[name].shape == tuple(tensor.shape), name
        assert np.array_equal(ours[name], tensor.numpy()), name


def test_a_file_that_is_no_checkpoint_is_refused(tmp_path: Path) -> None:
    import pickle

    path = tmp_path / "other.pt"
    path.write_bytes(pickle.dumps(12345))
    with open(path, "rb") as file, pytest.raises(CheckpointError, match="magic number"):
        load_legacy_checkpoint(file)


def test_the_mel_spectrogram_is_librosas() -> None:
    import librosa

    samples = recording("en_jfk.flac")
    theirs = librosa.feature.melspectrogram(y=samples, sr=16000, n_fft=400, hop_length=160,
                                            n_mels=40).T  # fmt: skip
    ours = mel_spectrogram(samples)
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).max() <= 1e-5 * theirs.max()


def test_embeddings_are_resemblyzers(encoder: SpeakerEncoder) -> None:
    from resemblyzer import VoiceEncoder

    theirs = VoiceEncoder("cpu", verbose=False)
    for name in ("en_jfk.flac", "zh_tingting_prompt.wav"):
        samples = recording(name)
        ours, reference = encoder.embed_utterance(samples), theirs.embed_utterance(samples)
        assert ours.shape == (256,) and abs(float(np.linalg.norm(ours)) - 1) < 1e-5
        assert float(ours @ reference) > 0.9999, name


def test_one_voice_is_nearer_itself_than_another(encoder: SpeakerEncoder) -> None:
    jfk, yuqian = recording("en_jfk.flac"), recording("zh_yuqian_prompt.wav")
    early, late = (
        encoder.embed_utterance(jfk[: 16000 * 5]),
        encoder.embed_utterance(jfk[16000 * 5 :]),
    )
    other = encoder.embed_utterance(yuqian)
    assert float(early @ late) > 0.75 > float(early @ other)


def joined(*names: str, pause: float = 1.0) -> tuple[np.ndarray, list[tuple[float, float, str]]]:
    """The recordings one after another with a pause, and who speaks when."""
    parts, truth, at = [], [], 0.0
    for name in names:
        samples = recording(name)
        truth.append((at, at + len(samples) / 16000, name))
        parts += [samples, np.zeros(int(16000 * pause), np.float32)]
        at += len(samples) / 16000 + pause
    return np.concatenate(parts[:-1]), truth


@pytest.mark.parametrize("names", [
    ("en_jfk.flac", "zh_tingting_prompt.wav"),
    ("en_jfk.flac", "zh_yuqian_prompt.wav"),  # two men
    ("zh_tingting_prompt.wav", "en_jfk.flac", "zh_yuqian_prompt.wav"),
    ("en_jfk.flac", "zh_tingting_prompt.wav", "en_jfk.flac"),  # one comes back
    ("en_jfk.flac",),
])  # fmt: skip
def test_speaker_turns_are_found(encoder: SpeakerEncoder, names: tuple[str, ...]) -> None:
    samples, truth = joined(*names)
    speech = find_speech(samples)
    turns = diarize(encoder, speech.samples, SpeakerBook())
    found = [(speech.original_time(t.start), speech.original_time(t.end), t.speaker) for t in turns]
    assert len(found) == len(names), found
    assert len({t.speaker for t in turns}) == len(set(names)), found
    labels = {}
    for (start, end, speaker), (true_start, true_end, name) in zip(found, truth, strict=True):
        assert labels.setdefault(name, speaker) == speaker, found
        # each change of speaker falls in the pause (within the half-second windows' step)
        assert start <= true_start + 0.6 and end >= true_end - 0.6, found
    assert found[0][2] == "A"


def test_known_speakers_are_named_and_a_stranger_is_lettered(encoder: SpeakerEncoder) -> None:
    jfk, tingting = recording("en_jfk.flac"), recording("zh_tingting_prompt.wav")
    book = SpeakerBook.with_known(
        [("kennedy", encoder.embed_utterance(jfk[16000 * 5 : 16000 * 9]))]
    )
    samples, _ = joined("zh_tingting_prompt.wav", "en_jfk.flac")
    turns = diarize(encoder, find_speech(samples).samples, book)
    assert [t.speaker for t in turns] == ["A", "kennedy"], turns
    # the book remembers: a later piece with the stranger in it says A again
    again = diarize(encoder, tingting, book)
    assert [t.speaker for t in again] == ["A"]
