"""The vq06 (semantic) tokenizer: Whisper log-mel, the torch S3 v1 encoder read out of an ONNX file
with the released layout, checked against onnxruntime running that same file."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import numpy_helper

from stepaudio_api.audio.decode import decode_audio
from stepaudio_codec.errors import CheckpointError
from stepaudio_codec.mel_filters import mel_filterbank
from stepaudio_codec.tiny.semantic_onnx import TINY, write_tiny_semantic_onnx
from stepaudio_codec.tokenizer.semantic import PIECE_SAMPLES, SemanticTokenizer, split_pieces
from stepaudio_codec.tokenizer.semantic_layout import (
    CODEBOOK_INITIALIZER,
    CODEBOOK_NODE,
    RELEASED,
)
from stepaudio_codec.tokenizer.semantic_model import file_tensor_shapes
from stepaudio_codec.tokenizer.whisper_mel import whisper_log_mel

JFK = Path(__file__).parents[3] / "tests" / "data" / "en_jfk.flac"
MANIFEST = Path(__file__).parents[1] / "stepaudio_codec" / "manifests" / "semantic_v1_25hz.json"
RELEASED_FILE_BYTES = 522_624_269  # speech_tokenizer_v1.onnx as downloaded


@pytest.fixture(scope="module")
def jfk() -> np.ndarray:
    return decode_audio(JFK.read_bytes(), sample_rate=16000).samples


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_semantic_onnx(tmp_path_factory.mktemp("vq06") / "speech_tokenizer_v1.onnx")


@pytest.fixture(scope="module")
def tokenizer(tiny_onnx: Path) -> SemanticTokenizer:
    return SemanticTokenizer.load(tiny_onnx)


def _onnxruntime_codes(path: Path, audio: np.ndarray) -> np.ndarray:
    """Step-Audio's get_vq06_code, with our mel: each 30 s piece through onnxruntime."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = []
    for piece in split_pieces(audio):
        mel = whisper_log_mel(piece).numpy()[None]
        feed = {"feats": mel, "feats_length": np.array([mel.shape[2]], dtype=np.int32)}
        out.append(session.run(None, feed)[0].reshape(-1))
    return np.concatenate(out)


def _numpy_log_mel(audio: np.ndarray) -> np.ndarray:
    """Whisper's recipe written out in float64 numpy."""
    padded = np.pad(audio.astype(np.float64), 200, mode="reflect")
    count = 1 + (len(padded) - 400) // 160
    frames = np.stack([padded[i * 160 : i * 160 + 400] for i in range(count)])
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)  # periodic Hann
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
    mel = mel_filterbank(16000, 400, 128).astype(np.float64) @ power[:-1].T
    log_spec = np.log10(np.maximum(mel, 1e-10))
    return (np.maximum(log_spec, log_spec.max() - 8.0) + 4.0) / 4.0


def test_whisper_mel_matches_numpy_reference(jfk: np.ndarray) -> None:
    for clip in (jfk[:40_123], np.random.default_rng(1).standard_normal(4_000) * 1e-3):
        ours = whisper_log_mel(clip).numpy()
        assert ours.shape == (128, len(clip) // 160)
        assert np.abs(ours - _numpy_log_mel(clip)).max() < 2e-4
    with pytest.raises(ValueError):
        whisper_log_mel(np.zeros((2, 1000), dtype=np.float32))


def test_tiny_graph_has_the_released_interface(tiny_onnx: Path) -> None:
    model = onnx.load(str(tiny_onnx))
    onnx.checker.check_model(model)
    graph = model.graph
    assert [(i.name, i.type.tensor_type.elem_type) for i in graph.input] == [
        ("feats", onnx.TensorProto.FLOAT),
        ("feats_length", onnx.TensorProto.INT32),
    ]
    assert [(o.name, o.type.tensor_type.elem_type) for o in graph.output] == [
        ("indices", onnx.TensorProto.INT64)
    ]
    weights = {t.name: list(t.dims) for t in graph.initializer}
    assert weights["encoders.conv1.weight"] == [64, 128, 3]
    assert weights["encoders.positional_embedding"] == [1500, 64]
    assert weights[CODEBOOK_INITIALIZER] == [64, 4096]
    nodes = {n.name: n for n in graph.node}
    assert CODEBOOK_INITIALIZER in nodes[CODEBOOK_NODE].input
    heads = numpy_helper.to_array(nodes["/blocks.0/attn/Constant_1"].attribute[0].t)
    assert heads.reshape(-1)[0] == 4
    assert nodes["/conv2/Conv"].op_type == "Conv" and "/Constant_29" in nodes
    assert tiny_onnx.stat().st_size < 4_000_000


def test_torch_tokenizer_equals_onnxruntime_on_speech(
    tiny_onnx: Path, tokenizer: SemanticTokenizer, jfk: np.ndarray
) -> None:
    read = tokenizer.config  # sizes from the graph, the epsilon from /Constant_29 (float32)
    assert replace(read, l2_eps=TINY.l2_eps) == TINY and abs(read.l2_eps - 1e-12) < 1e-18
    codes = tokenizer.tokenize(jfk)
    reference = _onnxruntime_codes(tiny_onnx, jfk)
    assert codes.dtype == np.int64 and codes.shape == reference.shape
    assert abs(len(codes) - len(jfk) / 16000 * 25) <= 2  # Step-Audio's own check
    assert len(np.unique(codes)) >= 10  # the check means something only if codes vary
    assert 0 <= codes.min() and codes.max() < 4096
    np.testing.assert_array_equal(codes, reference)
    longer = np.concatenate([jfk] * 4)[: 16_000 * 35]  # two pieces: 30 s and 5 s
    np.testing.assert_array_equal(tokenizer.tokenize(longer), _onnxruntime_codes(tiny_onnx, longer))


def test_nearest_code_is_the_euclidean_nearest_unit_vector(tokenizer: SemanticTokenizer) -> None:
    hidden = torch.randn(3, 50, TINY.hidden)
    codes = tokenizer.encoder.nearest_codes(hidden).numpy()
    unit = (hidden / hidden.norm(dim=-1, keepdim=True)).double().numpy()
    codebook = tokenizer.encoder.codebook.double().numpy()
    distance = ((unit[..., :, None] - codebook[None, None]) ** 2).sum(axis=2)
    np.testing.assert_array_equal(codes, distance.argmin(-1))


def test_thirty_second_split(tokenizer: SemanticTokenizer, jfk: np.ndarray) -> None:
    long = np.concatenate([jfk] * 6)[: 2 * PIECE_SAMPLES + 16_000 * 3]  # 63 s
    pieces = split_pieces(long)
    assert [len(p) for p in pieces] == [PIECE_SAMPLES, PIECE_SAMPLES, 48_000]
    codes = tokenizer.tokenize(long)
    assert len(codes) == 750 + 750 + 75
    np.testing.assert_array_equal(codes, np.concatenate([tokenizer.tokenize(p) for p in pieces]))
    with_short_tail = long[: PIECE_SAMPLES + 479]
    np.testing.assert_array_equal(tokenizer.tokenize(with_short_tail), codes[:750])
    assert len(tokenizer.tokenize(long[: PIECE_SAMPLES + 480])) == 751
    assert tokenizer.tokenize(jfk[:479]).shape == (0,)


def test_batch_equals_one_by_one(tokenizer: SemanticTokenizer, jfk: np.ndarray) -> None:
    clips = [jfk, jfk[:50_000], jfk[3_001:], jfk[:481], jfk[:100]]
    batched = tokenizer.tokenize_batch(clips)
    for clip, codes in zip(clips, batched, strict=True):
        np.testing.assert_array_equal(codes, tokenizer.tokenize(clip))
    assert [len(c) for c in batched[3:]] == [1, 0]


def test_stream_equals_whole_for_any_split(tokenizer: SemanticTokenizer, jfk: np.ndarray) -> None:
    audio = np.concatenate([jfk] * 3)[: int(16_000 * 31.3)]
    whole = tokenizer.tokenize(audio)
    rng = np.random.default_rng(0)
    for _ in range(2):
        stream = tokenizer.stream()
        parts, start = [], 0
        while start < len(audio):
            size = int(rng.choice([0, 1, 777, 16_000, 200_000]))
            parts.append(stream.feed(audio[start : start + size]))
            start += size
        parts.append(stream.finish())
        assert len(parts[0]) == 0
        np.testing.assert_array_equal(np.concatenate(parts), whole)
    with pytest.raises(RuntimeError):
        stream.feed(audio[:10])


def test_bfloat16_runs_close_to_float32(tiny_onnx: Path, jfk: np.ndarray) -> None:
    full = SemanticTokenizer.load(tiny_onnx).tokenize(jfk[:80_000])
    half = SemanticTokenizer.load(tiny_onnx, dtype=torch.bfloat16).tokenize(jfk[:80_000])
    assert half.shape == full.shape and (half == full).mean() > 0.8


def test_released_size_matches_manifest() -> None:
    manifest = json.loads(MANIFEST.read_text())
    shapes = file_tensor_shapes(RELEASED)
    assert shapes == manifest["tensors"]
    values = sum(int(np.prod(s)) for s in shapes.values())
    print(f"S3 tokenizer v1 at released size: {values:,} float32 values")
    assert values == 130_629_120
    assert 0 < RELEASED_FILE_BYTES - 4 * values < 0.001 * RELEASED_FILE_BYTES


def _edited_copy(source: Path, target: Path, edit) -> Path:
    model = onnx.load(str(source))
    edit(model.graph)
    onnx.save(model, str(target))
    return target


def test_error_paths_name_the_file(tiny_onnx: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "speech_tokenizer_v1.onnx"
    with pytest.raises(CheckpointError, match=r"nowhere.*not found"):
        SemanticTokenizer.load(missing)
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(tiny_onnx.read_bytes()[:5_000])
    with pytest.raises(CheckpointError, match=r"corrupt\.onnx"):
        SemanticTokenizer.load(corrupt)

    def shrink_query(graph: onnx.GraphProto) -> None:
        node = next(n for n in graph.node if n.name == "/blocks.1/attn/query/MatMul")
        tensor = next(t for t in graph.initializer if t.name in node.input)
        tensor.CopyFrom(numpy_helper.from_array(np.zeros((64, 32), np.float32), tensor.name))

    wrong = _edited_copy(tiny_onnx, tmp_path / "wrong_shape.onnx", shrink_query)
    with pytest.raises(CheckpointError, match=r"wrong_shape.*query/MatMul.*\[64, 32\].*\[64, 64\]"):
        SemanticTokenizer.load(wrong)

    def drop_conv2_bias(graph: onnx.GraphProto) -> None:
        tensor = next(t for t in graph.initializer if t.name == "encoders.conv2.bias")
        graph.initializer.remove(tensor)

    dropped = _edited_copy(tiny_onnx, tmp_path / "dropped.onnx", drop_conv2_bias)
    with pytest.raises(
        CheckpointError, match=r"dropped\.onnx.*missing initializer encoders\.conv2\.bias"
    ):
        SemanticTokenizer.load(dropped)


def test_layer_norms_found_by_initializer_name_too(
    tiny_onnx: Path, tokenizer: SemanticTokenizer, tmp_path: Path, jfk: np.ndarray
) -> None:
    """Were the layer norms one LayerNormalization node each, their ``/Mul`` and ``/Add_1`` nodes
    would not exist; the named initializers still locate the weights."""

    def rename_norm_nodes(graph: onnx.GraphProto) -> None:
        for node in graph.node:
            if "_ln/" in node.name:
                node.name = node.name.replace("_ln/", "_ln/renamed_")

    renamed = _edited_copy(tiny_onnx, tmp_path / "renamed.onnx", rename_norm_nodes)
    np.testing.assert_array_equal(
        SemanticTokenizer.load(renamed).tokenize(jfk[:64_000]), tokenizer.tokenize(jfk[:64_000])
    )


def test_encoder_output_matches_onnxruntime_closely(
    tiny_onnx: Path, tokenizer: SemanticTokenizer, tmp_path: Path, jfk: np.ndarray
) -> None:
    """Codes hide small errors (an argmax rarely flips), so compare the L2-normalised encoder
    output itself, exposed as an extra output of a copy of the graph."""
    model = onnx.load(str(tiny_onnx))
    eps_max = next(n for n in model.graph.node if "/Constant_29_output_0" in n.input)
    normalised = next(n for n in model.graph.node if eps_max.output[0] in n.input)
    model.graph.output.append(
        onnx.helper.make_tensor_value_info(normalised.output[0], onnx.TensorProto.FLOAT, None)
    )
    exposed = tmp_path / "exposed.onnx"
    onnx.save(model, str(exposed))
    mel = whisper_log_mel(jfk[:96_000])
    session = ort.InferenceSession(str(exposed), providers=["CPUExecutionProvider"])
    feed = {"feats": mel.numpy()[None], "feats_length": np.array([mel.shape[1]], np.int32)}
    reference = session.run(None, feed)[1]
    hidden, _ = tokenizer.encoder.encode(mel[None], torch.tensor([mel.shape[1]]))
    ours = torch.nn.functional.normalize(hidden, dim=-1).numpy()
    assert ours.shape == reference.shape == (1, 150, TINY.hidden)
    assert np.abs(ours - reference).max() < 5e-6  # tanh-GELU would give 7e-5
