"""A runnable stand-in for ``speech_tokenizer_v1.onnx`` with the released structure at tiny size.

Same inputs (``feats`` float32 ``[B, 128, T]``, ``feats_length`` int32 ``[B]``) and output
(``indices`` int64 ``[B, T']``), the same named initializers (``encoders.conv1.weight``, ...,
``encoders.blocks.N.attn_ln.weight``, ``onnx::MatMul_1672`` for the codebook), the same nodes
holding the weights (``/conv1/Conv``, ``/blocks.N/attn/query/MatMul``, ``/blocks.N/attn_ln/Mul``,
``/quantizer/rq/model/layers.0/_codebook/MatMul`` and ``.../Pow_1``), the head count in
``/blocks.0/attn/Constant_1`` and the L2 epsilon in ``/Constant_29``, and the computation spelled
in plain ONNX ops (decomposed layer norm, erf GELU, masked attention, ReduceL2, ArgMax). Names of
the anonymous linear weights (``onnx::MatMul_NNNN``) and of nodes holding no weights are ours.
onnxruntime runs it, so our torch tokenizer can be checked against an independent engine.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from stepaudio_codec.tokenizer.semantic_layout import (
    CODEBOOK_INITIALIZER,
    CODEBOOK_SIZE,
    L2_EPS_NODE,
    N_MELS,
    RELEASED,
    SemanticConfig,
)

TINY = SemanticConfig(hidden=64, heads=4, layers=2, positions=1500)
OPSET = 14


class _GraphBuilder:
    """Collects nodes and initializers; names nodes the way torch's exporter does
    (``<scope>/<Op>``, then ``_1``, ``_2`` ...), outputs ``<node>_output_0``."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[TensorProto] = []
        self._taken: set[str] = {L2_EPS_NODE}
        self._counts: dict[str, int] = {}
        self._anonymous = 1500

    def _name(self, scope: str, op: str) -> str:
        while True:
            count = self._counts.get(f"{scope}/{op}", 0)
            self._counts[f"{scope}/{op}"] = count + 1
            name = f"{scope}/{op}" + (f"_{count}" if count else "")
            if name not in self._taken:
                self._taken.add(name)
                return name

    def op(self, scope: str, op: str, *inputs: str, name: str | None = None, **attrs) -> str:
        name = name or self._name(scope, op)
        self._taken.add(name)
        output = f"{name}_output_0"
        self.nodes.append(helper.make_node(op, list(inputs), [output], name=name, **attrs))
        return output

    def const(self, scope: str, value: np.ndarray | float | int, name: str | None = None) -> str:
        array = np.asarray(value)
        array = array.astype(np.float32) if array.dtype.kind == "f" else array.astype(np.int64)
        return self.op(scope, "Constant", name=name, value=numpy_helper.from_array(array))

    def weight(self, array: np.ndarray, name: str | None = None) -> str:
        if name is None:
            name = f"onnx::MatMul_{self._anonymous}"
            self._anonymous += 1
        self.initializers.append(numpy_helper.from_array(array.astype(np.float32), name))
        return name

    def gelu(self, scope: str, x: str) -> str:
        scaled = self.op(scope, "Div", x, self.const(scope, math.sqrt(2.0)))
        shifted = self.op(scope, "Add", self.op(scope, "Erf", scaled), self.const(scope, 1.0))
        return self.op(scope, "Mul", self.op(scope, "Mul", x, shifted), self.const(scope, 0.5))

    def layer_norm(self, scope: str, x: str, weight: str, bias: str, eps: float) -> str:
        mean = self.op(scope, "ReduceMean", x, axes=[-1])
        centred = self.op(scope, "Sub", x, mean)
        variance = self.op(
            scope, "ReduceMean", self.op(scope, "Pow", centred, self.const(scope, 2.0)), axes=[-1]
        )
        std = self.op(scope, "Sqrt", self.op(scope, "Add", variance, self.const(scope, eps)))
        normed = self.op(scope, "Div", centred, std)
        return self.op(scope, "Add", self.op(scope, "Mul", normed, weight), bias)

    def linear(self, scope: str, x: str, weight: np.ndarray, bias: np.ndarray | None) -> str:
        """``x @ W.T + b`` as the exporter writes it: MatMul on the pre-transposed weight."""
        out = self.op(scope, "MatMul", x, self.weight(weight.T))
        if bias is None:
            return out
        module = scope.replace("/", ".").replace(".mlp.mlp.", ".mlp.")  # torch's Sequential scope
        return self.op(scope, "Add", out, self.weight(bias, f"encoders{module}.bias"))

    def masked_length(self, x: str, lengths: str) -> str:
        """[B, 1, frames] float mask of ``x``'s last axis from the int64 ``lengths``."""
        frames = self.op("", "Gather", self.op("", "Shape", x), self.const("", 2))
        steps = self.op("", "Range", self.const("", 0), frames, self.const("", 1))
        valid = self.op(
            "",
            "Less",
            self.op("", "Unsqueeze", steps, self.const("", [0])),
            self.op("", "Unsqueeze", lengths, self.const("", [1])),
        )
        as_float = self.op("", "Cast", valid, to=TensorProto.FLOAT)
        return self.op("", "Unsqueeze", as_float, self.const("", [1]))

    def halve(self, lengths: str) -> str:
        minus = self.op("", "Sub", lengths, self.const("", 1))
        return self.op("", "Add", self.op("", "Div", minus, self.const("", 2)), self.const("", 1))


def _block(
    graph: _GraphBuilder, x: str, key_bias: str, index: int, config: SemanticConfig, rng
) -> str:
    hidden, heads = config.hidden, config.heads
    scope = f"/blocks.{index}"

    def norm(which: str, value: str) -> str:
        weight = graph.weight(
            1 + 0.1 * rng.standard_normal(hidden), f"encoders.blocks.{index}.{which}.weight"
        )
        bias = graph.weight(
            0.1 * rng.standard_normal(hidden), f"encoders.blocks.{index}.{which}.bias"
        )
        return graph.layer_norm(f"{scope}/{which}", value, weight, bias, config.layer_norm_eps)

    def matrix(rows: int, cols: int) -> np.ndarray:
        return rng.standard_normal((rows, cols)) / math.sqrt(cols)

    def vector(size: int) -> np.ndarray:
        return 0.02 * rng.standard_normal(size)

    attn = f"{scope}/attn"
    h = norm("attn_ln", x)
    q = graph.linear(f"{attn}/query", h, matrix(hidden, hidden), vector(hidden))
    k = graph.linear(f"{attn}/key", h, matrix(hidden, hidden), None)
    v = graph.linear(f"{attn}/value", h, matrix(hidden, hidden), vector(hidden))
    split_shape = graph.op(
        attn,
        "Concat",
        graph.const(attn, [0, 0]),
        graph.const(attn, [heads], name=f"{attn}/Constant_1"),
        graph.const(attn, [-1]),
        axis=0,
    )
    scale = graph.const(attn, (hidden // heads) ** -0.25)

    def heads_of(t: str, perm: list[int]) -> str:
        return graph.op(attn, "Transpose", graph.op(attn, "Reshape", t, split_shape), perm=perm)

    qh = graph.op(attn, "Mul", heads_of(q, [0, 2, 1, 3]), scale)
    kh = graph.op(attn, "Mul", heads_of(k, [0, 2, 3, 1]), scale)
    scores = graph.op(attn, "Add", graph.op(attn, "MatMul", qh, kh), key_bias)
    weights = graph.op(attn, "Softmax", scores, axis=-1)
    mixed = graph.op(attn, "MatMul", weights, heads_of(v, [0, 2, 1, 3]))
    merged = graph.op(
        attn,
        "Reshape",
        graph.op(attn, "Transpose", mixed, perm=[0, 2, 1, 3]),
        graph.const(attn, [0, 0, -1]),
    )
    out = graph.linear(f"{attn}/out", merged, matrix(hidden, hidden), vector(hidden))
    x = graph.op(scope, "Add", x, out)
    mlp = f"{scope}/mlp"
    inner = graph.linear(
        f"{mlp}/mlp.0", norm("mlp_ln", x), matrix(config.mlp, hidden), vector(config.mlp)
    )
    inner = graph.gelu(f"{mlp}/mlp.1", inner)
    out = graph.linear(f"{mlp}/mlp.2", inner, matrix(hidden, config.mlp), vector(hidden))
    return graph.op(scope, "Add", x, out)


def _sinusoids(length: int, channels: int) -> np.ndarray:
    rates = np.exp(-math.log(10000) / (channels // 2 - 1) * np.arange(channels // 2))
    angles = np.arange(length)[:, None] * rates[None, :]
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)


def build_semantic_graph(config: SemanticConfig, seed: int = 0) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    hidden = config.hidden
    g = _GraphBuilder()
    lengths = g.op("", "Cast", "feats_length", to=TensorProto.INT64)
    x = g.op("", "Mul", "feats", g.masked_length("feats", lengths))
    for conv in ("conv1", "conv2"):
        fan_in = (N_MELS if conv == "conv1" else hidden) * 3
        weight = g.weight(
            rng.standard_normal((hidden, fan_in // 3, 3)) / math.sqrt(fan_in),
            f"encoders.{conv}.weight",
        )
        bias = g.weight(0.1 * rng.standard_normal(hidden), f"encoders.{conv}.bias")
        x = g.op(
            f"/{conv}", "Conv", x, weight, bias, kernel_shape=[3], strides=[2], pads=[1, 1],
            dilations=[1], group=1,
        )  # fmt: skip
        x = g.gelu("", x)
        lengths = g.halve(lengths)
        if conv == "conv1":
            x = g.op("", "Mul", x, g.masked_length(x, lengths))
    key_bias = g.op(
        "",
        "Mul",
        g.op("", "Sub", g.const("", 1.0), g.masked_length(x, lengths)),
        g.const("", -1e10),
    )
    key_bias = g.op("", "Unsqueeze", key_bias, g.const("", [1]))  # [B, 1, 1, T']
    steps = g.op("", "Gather", g.op("", "Shape", x), g.const("", [2]))
    x = g.op("", "Transpose", x, perm=[0, 2, 1])
    table = g.weight(0.5 * _sinusoids(config.positions, hidden), "encoders.positional_embedding")
    x = g.op("", "Add", x, g.op("", "Slice", table, g.const("", [0]), steps, g.const("", [0])))
    for index in range(config.layers):
        x = _block(g, x, key_bias, index, config, rng)
    norm = g.op("", "ReduceL2", x, axes=[-1], keepdims=1)
    eps = g.const("", config.l2_eps, name=L2_EPS_NODE)
    x = g.op("", "Div", x, g.op("", "Max", norm, eps))
    q = "/quantizer/rq/model/layers.0/_codebook"
    # Unit-length code vectors (with a little spread), as suits L2-normalised inputs: with raw
    # Gaussian columns the shortest column would win every frame.
    columns = rng.standard_normal((hidden, config.codebook_size))
    columns *= (1 + 0.02 * rng.standard_normal(config.codebook_size)) / np.linalg.norm(
        columns, axis=0
    )
    codebook = g.weight(columns, CODEBOOK_INITIALIZER)
    flat = g.op(q, "Reshape", x, g.const(q, [-1, hidden]))
    two = g.const(q, 2.0)
    x_norm = g.op(q, "ReduceSum", g.op(q, "Pow", flat, two), g.const(q, [1]), keepdims=1)
    cross = g.op(q, "MatMul", g.op(q, "Mul", flat, g.const(q, 2.0)), codebook)
    e_norm = g.op(q, "ReduceSum", g.op(q, "Pow", codebook, two), g.const(q, [0]), keepdims=1)
    distance = g.op(q, "Add", g.op(q, "Sub", x_norm, cross), e_norm)
    best = g.op(q, "ArgMax", g.op(q, "Neg", distance), axis=-1, keepdims=0)
    out_shape = g.op(
        "",
        "Concat",
        g.op("", "Gather", g.op("", "Shape", "feats"), g.const("", [0])),
        steps,
        axis=0,
    )
    g.nodes.append(helper.make_node("Reshape", [best, out_shape], ["indices"], name="/Reshape_out"))
    graph = helper.make_graph(
        g.nodes,
        "speech_tokenizer_v1_tiny",
        [
            helper.make_tensor_value_info("feats", TensorProto.FLOAT, ["B", N_MELS, "T"]),
            helper.make_tensor_value_info("feats_length", TensorProto.INT32, ["B"]),
        ],
        [helper.make_tensor_value_info("indices", TensorProto.INT64, ["B", "T_codes"])],
        initializer=g.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    return model


def write_tiny_semantic_onnx(path: Path, seed: int = 0, real: bool = False) -> Path:
    """Write the stand-in (``real=True``: released sizes, about 520 MB) to ``path``."""
    config = RELEASED if real else TINY
    assert config.codebook_size == CODEBOOK_SIZE
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(build_semantic_graph(config, seed), str(path))
    return path
