"""Where each weight of ``speech_tokenizer_v1.onnx`` (CosyVoice's S3 tokenizer v1, 25 Hz) lives
in the released graph, and how it maps onto our torch module.

The released export names only some initializers after their parameters (the convolutions, the
positional table, the layer norms); the linear weights were transposed and constant-folded by the
exporter into anonymous ``onnx::MatMul_NNNN`` initializers, so those are found through the node
that consumes them (``/blocks.N/attn/query/MatMul`` and so on). A key here is therefore either an
initializer name or, when it starts with ``/``, the name of the node whose single initializer
input is the tensor. Shapes are in the file's layout: MatMul weights are ``[in, out]``.
"""

from __future__ import annotations

from dataclasses import dataclass

N_MELS = 128
CODEBOOK_SIZE = 4096
CODEBOOK_NODE = "/quantizer/rq/model/layers.0/_codebook/MatMul"
CODEBOOK_NORM_NODE = "/quantizer/rq/model/layers.0/_codebook/Pow_1"
CODEBOOK_INITIALIZER = "onnx::MatMul_1672"  # its name in the released file
HEADS_NODE = "/blocks.0/attn/Constant_1"  # a Constant holding the head count
L2_EPS_NODE = "/Constant_29"  # the quantizer's L2-normalisation epsilon
CONV_NODES = ("/conv1/Conv", "/conv2/Conv")
INPUT_NAMES = ("feats", "feats_length")
OUTPUT_NAME = "indices"


@dataclass(frozen=True)
class SemanticConfig:
    """Sizes of the S3 v1 encoder. The defaults are the released ones (hidden 1280, 20 heads,
    6 blocks, 1500 positions, 4096 codes)."""

    hidden: int = 1280
    heads: int = 20
    layers: int = 6
    positions: int = 1500
    codebook_size: int = CODEBOOK_SIZE
    n_mels: int = N_MELS
    layer_norm_eps: float = 1e-5
    l2_eps: float = 1e-12

    @property
    def mlp(self) -> int:
        return 4 * self.hidden


RELEASED = SemanticConfig()


@dataclass(frozen=True)
class TensorPlace:
    """One released tensor: our module's parameter name and whether the file stores it
    transposed relative to torch (MatMul weights are ``[in, out]``, ``nn.Linear``'s
    ``[out, in]``)."""

    module_name: str
    transposed: bool = False
    # Other keys that locate the same tensor, tried in order when the first is absent (e.g. a
    # layer norm exported as one LayerNormalization node still has its named initializers).
    aliases: tuple[str, ...] = ()


def block_layout(index: int) -> dict[str, TensorPlace]:
    node = f"/blocks.{index}"
    ours = f"blocks.{index}"
    named = f"encoders.blocks.{index}"
    layout = {
        f"{node}/attn_ln/Mul": TensorPlace(
            f"{ours}.attn_norm.weight", aliases=(f"{named}.attn_ln.weight",)
        ),
        f"{node}/attn_ln/Add_1": TensorPlace(
            f"{ours}.attn_norm.bias", aliases=(f"{named}.attn_ln.bias",)
        ),
        f"{node}/mlp_ln/Mul": TensorPlace(
            f"{ours}.mlp_norm.weight", aliases=(f"{named}.mlp_ln.weight",)
        ),
        f"{node}/mlp_ln/Add_1": TensorPlace(
            f"{ours}.mlp_norm.bias", aliases=(f"{named}.mlp_ln.bias",)
        ),
        f"{node}/attn/key/MatMul": TensorPlace(f"{ours}.attn.key.weight", transposed=True),
        f"{node}/mlp/mlp.0/MatMul": TensorPlace(f"{ours}.mlp_in.weight", transposed=True),
        f"{node}/mlp/mlp.0/Add": TensorPlace(f"{ours}.mlp_in.bias"),
        f"{node}/mlp/mlp.2/MatMul": TensorPlace(f"{ours}.mlp_out.weight", transposed=True),
        f"{node}/mlp/mlp.2/Add": TensorPlace(f"{ours}.mlp_out.bias"),
    }
    for projection in ("query", "value", "out"):
        layout[f"{node}/attn/{projection}/MatMul"] = TensorPlace(
            f"{ours}.attn.{projection}.weight", transposed=True
        )
        layout[f"{node}/attn/{projection}/Add"] = TensorPlace(f"{ours}.attn.{projection}.bias")
    return layout


def semantic_layout(layers: int) -> dict[str, TensorPlace]:
    """Every released tensor the tokenizer reads, for a graph of ``layers`` blocks."""
    layout = {
        "encoders.conv1.weight": TensorPlace("conv1.weight"),
        "encoders.conv1.bias": TensorPlace("conv1.bias"),
        "encoders.conv2.weight": TensorPlace("conv2.weight"),
        "encoders.conv2.bias": TensorPlace("conv2.bias"),
        "encoders.positional_embedding": TensorPlace("positional_embedding"),
    }
    for index in range(layers):
        layout.update(block_layout(index))
    layout[CODEBOOK_NODE] = TensorPlace(
        "codebook", aliases=(CODEBOOK_NORM_NODE, CODEBOOK_INITIALIZER)
    )
    return layout


def file_shape(module_shape: tuple[int, ...], place: TensorPlace) -> tuple[int, ...]:
    return tuple(reversed(module_shape)) if place.transposed else tuple(module_shape)
