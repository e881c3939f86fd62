"""The CAM++ speaker embedding: Kaldi fbank features as CosyVoice feeds them, campplus.onnx run
through onnxruntime, and the file checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from stepaudio_api.audio.decode import decode_audio
from stepaudio_codec.decoder.speaker import SpeakerEmbedder, kaldi_fbank
from stepaudio_codec.errors import CheckpointError
from stepaudio_codec.tiny.campplus_onnx import tiny_campplus_reference, write_tiny_campplus

JFK = Path(__file__).parents[3] / "tests" / "data" / "en_jfk.flac"


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """3 s of speech with a little white noise: the recording has next to nothing above 7 kHz
    (and pre-emphasis removes the lowest band), and bins at the log floor would test float32
    rounding, not the recipe."""
    clip = decode_audio(JFK.read_bytes(), sample_rate=16000).samples[:48_000]
    noise = np.random.default_rng(0).standard_normal(len(clip)).astype(np.float32)
    return clip + 1e-2 * noise


def _kaldi_fbank_reference(audio: np.ndarray) -> np.ndarray:
    """Kaldi's fbank (torchaudio.compliance.kaldi.fbank defaults, 80 bins, no dither) in numpy:
    DC removal, pre-emphasis 0.97, Povey window, 512-point power spectrum, mel triangles on
    1127 ln(1 + f / 700) between 20 Hz and Nyquist, natural log."""
    count = 1 + (len(audio) - 400) // 160
    frames = np.stack([audio[i * 160 : i * 160 + 400] for i in range(count)]).astype(np.float64)
    frames -= frames.mean(axis=1, keepdims=True)
    frames[:, 1:] -= 0.97 * frames[:, :-1].copy()
    frames[:, 0] *= 1 - 0.97
    frames *= (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 399)) ** 0.85
    power = np.abs(np.fft.rfft(frames, 512, axis=1)) ** 2

    def mel(f: np.ndarray | float) -> np.ndarray:
        return 1127.0 * np.log(1.0 + np.asarray(f) / 700.0)

    edges = np.linspace(mel(20.0), mel(8000.0), 82)
    bin_mel = mel(np.arange(256) * 16000 / 512)
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bin_mel - left) / (centre - left)
    falling = (right - bin_mel) / (right - centre)
    weights = np.where((bin_mel > left) & (bin_mel < right), np.minimum(rising, falling), 0.0)
    energies = power[:, :256] @ weights.T
    return np.log(np.maximum(energies, np.finfo(np.float32).eps))


def test_fbank_matches_kaldi_reference(speech: np.ndarray) -> None:
    ours = kaldi_fbank(speech)
    assert ours.shape == (1 + (len(speech) - 400) // 160, 80) and ours.dtype == np.float32
    assert ours.min() > np.log(np.finfo(np.float32).eps) + 1  # no bin at the log floor
    assert np.abs(ours - _kaldi_fbank_reference(speech)).max() < 5e-4


def test_tiny_campplus_interface(tmp_path: Path) -> None:
    model = onnx.load(str(write_tiny_campplus(tmp_path / "campplus.onnx")))
    onnx.checker.check_model(model)
    (only_input,), (only_output,) = model.graph.input, model.graph.output
    assert only_input.name == "input" and only_output.name == "output"
    dims = [d.dim_value or d.dim_param for d in only_input.type.tensor_type.shape.dim]
    assert dims == ["B", "T", 80]
    assert [d.dim_value for d in only_output.type.tensor_type.shape.dim][1] == 192


def test_embedding_is_campplus_of_mean_normalised_fbank(speech: np.ndarray, tmp_path: Path) -> None:
    embedder = SpeakerEmbedder.load(write_tiny_campplus(tmp_path / "campplus.onnx", seed=3))
    embedding = embedder.embed(speech)
    assert embedding.shape == (192,) and embedding.dtype == np.float32
    features = _kaldi_fbank_reference(speech)
    features -= features.mean(axis=0, keepdims=True)
    expected = tiny_campplus_reference(features[None], seed=3)[0]
    np.testing.assert_allclose(embedding, expected, rtol=1e-3, atol=1e-3)
    louder = embedder.embed(
        speech * 2.0
    )  # a gain is a constant in log-fbank, which the mean removes
    np.testing.assert_allclose(louder, embedding, rtol=1e-3, atol=1e-3)
    with pytest.raises(ValueError):
        embedder.embed(speech[:300])


def test_error_paths_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"missing_dir.*not found"):
        SpeakerEmbedder.load(tmp_path / "missing_dir" / "campplus.onnx")
    corrupt = tmp_path / "corrupt_campplus.onnx"
    corrupt.write_bytes(b"\x08\x07garbage" * 50)
    with pytest.raises(CheckpointError, match=r"corrupt_campplus\.onnx"):
        SpeakerEmbedder.load(corrupt)
    narrow = helper.make_graph(
        [helper.make_node("ReduceMean", ["input"], ["output"], axes=[1], keepdims=0)],
        "narrow",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["B", "T", 40])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["B", 40])],
    )
    wrong = tmp_path / "wrong_bins.onnx"
    model = helper.make_model(narrow, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(wrong))
    with pytest.raises(CheckpointError, match=r"wrong_bins.onnx.*input shape.*40"):
        SpeakerEmbedder.load(wrong)
