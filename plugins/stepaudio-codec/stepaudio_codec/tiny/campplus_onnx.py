"""A small runnable stand-in for CosyVoice's ``campplus.onnx`` (the CAM++ speaker encoder).

Only the file's I/O contract is the released one: one float32 input named ``input`` of shape
``[batch, frames, 80]`` (mean-normalised Kaldi fbank) and one float32 output named ``output`` of
shape ``[batch, 192]``. CosyVoice and our ``SpeakerEmbedder`` run the graph as a black box
(reading ``get_inputs()[0].name``), so the inside is ours: a per-frame projection, ReLU, the mean
over time, and a projection to 192. The names ``input``/``output`` are inferred from public
conversions of the released file, not read from it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

INPUT_NAME = "input"
OUTPUT_NAME = "output"
NUM_BINS = 80
EMBEDDING_DIM = 192
HIDDEN = 32


def tiny_campplus_weights(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "frame_proj": (rng.standard_normal((NUM_BINS, HIDDEN)) / np.sqrt(NUM_BINS)).astype(
            np.float32
        ),
        "frame_bias": (0.1 * rng.standard_normal(HIDDEN)).astype(np.float32),
        "embed_proj": (rng.standard_normal((HIDDEN, EMBEDDING_DIM)) / np.sqrt(HIDDEN)).astype(
            np.float32
        ),
    }


def tiny_campplus_reference(features: np.ndarray, seed: int = 0) -> np.ndarray:
    """What the stand-in computes, in numpy: ``[B, T, 80] -> [B, 192]``."""
    w = tiny_campplus_weights(seed)
    hidden = np.maximum(features @ w["frame_proj"] + w["frame_bias"], 0.0)
    return hidden.mean(axis=1) @ w["embed_proj"]


def write_tiny_campplus(path: Path, seed: int = 0) -> Path:
    weights = tiny_campplus_weights(seed)
    nodes = [
        helper.make_node("MatMul", [INPUT_NAME, "frame_proj"], ["frames"], name="/frame/MatMul"),
        helper.make_node("Add", ["frames", "frame_bias"], ["frames_b"], name="/frame/Add"),
        helper.make_node("Relu", ["frames_b"], ["active"], name="/frame/Relu"),
        helper.make_node("ReduceMean", ["active"], ["pooled"], axes=[1], keepdims=0, name="/pool"),
        helper.make_node("MatMul", ["pooled", "embed_proj"], [OUTPUT_NAME], name="/embed/MatMul"),
    ]
    graph = helper.make_graph(
        nodes,
        "campplus_tiny",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["B", "T", NUM_BINS])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["B", EMBEDDING_DIM])],
        initializer=[numpy_helper.from_array(value, name) for name, value in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path
