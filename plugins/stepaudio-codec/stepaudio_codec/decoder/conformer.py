"""The flow's token encoder: CosyVoice's ConformerEncoder (WeNet/ESPnet lineage) with a linear
input layer, ESPnet's relative positional encoding and Transformer-XL style attention.

Parameter names follow the released ``flow.pt`` (``encoder.embed.out.0``, ``encoder.encoders.N
.self_attn.linear_pos``, ``pos_bias_u`` ...). Inference only: dropout is left out."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "swish": nn.SiLU,
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "hardtanh": nn.Hardtanh,
    "selu": nn.SELU,
}
# Accepted, but with no effect at inference (dropout, training-only switches).
_INERT = {
    "dropout_rate",
    "positional_dropout_rate",
    "attention_dropout_rate",
    "use_dynamic_left_chunk",
    "gradient_checkpointing",
    "positionwise_conv_kernel_size",
}


@dataclass(frozen=True)
class ConformerConfig:
    input_size: int
    output_size: int = 256
    attention_heads: int = 4
    linear_units: int = 2048
    num_blocks: int = 6
    normalize_before: bool = True
    static_chunk_size: int = 0
    macaron_style: bool = True
    activation_type: str = "swish"
    use_cnn_module: bool = True
    cnn_module_kernel: int = 15
    cnn_module_norm: str = "batch_norm"
    key_bias: bool = True

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any]) -> ConformerConfig:
        """ConformerEncoder's yaml kwargs -> config; raises ValueError for what is not built."""
        fixed = {
            "input_layer": ("linear",),
            "pos_enc_layer_type": ("rel_pos_espnet",),
            "selfattention_layer_type": ("rel_selfattn",),
            "use_dynamic_chunk": (False,),
            "causal": (False,),
            "global_cmvn": (None,),
        }
        defaults = {"input_layer": "conv2d", "pos_enc_layer_type": "rel_pos"}
        for key, allowed in fixed.items():
            value = kwargs.get(key, defaults.get(key, allowed[0]))
            if value not in allowed:
                raise ValueError(f"encoder {key}={value!r} is not supported (only {allowed[0]!r})")
        names = set(cls.__dataclass_fields__)
        unknown = set(kwargs) - names - set(fixed) - _INERT
        if unknown:
            raise ValueError(f"unknown ConformerEncoder arguments {sorted(unknown)}")
        config = cls(**{k: v for k, v in kwargs.items() if k in names})
        if config.activation_type not in _ACTIVATIONS:
            raise ValueError(f"encoder activation_type={config.activation_type!r} is unknown")
        if config.output_size % config.attention_heads:
            raise ValueError("encoder output_size must be a multiple of attention_heads")
        if config.cnn_module_norm not in ("batch_norm", "layer_norm"):
            raise ValueError(f"encoder cnn_module_norm={config.cnn_module_norm!r} is unknown")
        return config


def relative_position_table(length: int, d_model: int) -> torch.Tensor:
    """ESPnet's relative sinusoids for offsets ``length-1 ... 0 ... -(length-1)`` (row k is
    offset ``length-1-k``): sin in the even columns, cos in the odd ones. (1, 2*length-1, d)."""
    offsets = torch.arange(length - 1, -length, -1, dtype=torch.float32)
    inverse = torch.exp(
        torch.arange(0, d_model, 2, dtype=torch.float32) * -(math.log(10000.0) / d_model)
    )
    angles = offsets[:, None] * inverse[None, :]
    table = torch.zeros(2 * length - 1, d_model)
    table[:, 0::2] = torch.sin(angles)
    table[:, 1::2] = torch.cos(angles)
    return table.unsqueeze(0)


def shift_relative(scores: torch.Tensor) -> torch.Tensor:
    """(B, H, T, 2T-1) scores against offsets (row k = offset T-1-k) -> (B, H, T, T) with
    out[..., i, j] = scores[..., i, T-1-i+j], i.e. each query/key pair's offset i-j. A strided
    view of the contiguous input, so no (T, T) index tensor is built."""
    scores = scores.contiguous()
    batch, heads, length, width = scores.shape
    return scores.as_strided(
        (batch, heads, length, length),
        (heads * length * width, length * width, width - 1, 1),
        scores.storage_offset() + length - 1,
    )


class RelPositionSelfAttention(nn.Module):
    """Multi-head self-attention with Transformer-XL's content (u) and position (v) biases."""

    def __init__(self, heads: int, size: int, key_bias: bool, **factory: Any) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, size // heads
        self.linear_q = nn.Linear(size, size, **factory)
        self.linear_k = nn.Linear(size, size, bias=key_bias, **factory)
        self.linear_v = nn.Linear(size, size, **factory)
        self.linear_out = nn.Linear(size, size, **factory)
        self.linear_pos = nn.Linear(size, size, bias=False, **factory)
        self.pos_bias_u = nn.Parameter(torch.zeros(heads, self.head_dim, **factory))
        self.pos_bias_v = nn.Parameter(torch.zeros(heads, self.head_dim, **factory))

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[0], -1, self.heads, self.head_dim)

    def forward(
        self, x: torch.Tensor, pos_table: torch.Tensor, allowed: torch.Tensor | None = None
    ) -> torch.Tensor:
        """x: (B, T, D); pos_table: (1, 2T-1, D); allowed: optional (T, T) bool (True = attend)."""
        batch, length, _ = x.shape
        q = self._heads(self.linear_q(x))  # (B, T, H, d)
        k = self._heads(self.linear_k(x)).transpose(1, 2)
        v = self._heads(self.linear_v(x)).transpose(1, 2)
        p = self._heads(self.linear_pos(pos_table)).transpose(1, 2)  # (1, H, 2T-1, d)
        q_content = (q + self.pos_bias_u).transpose(1, 2)
        q_position = (q + self.pos_bias_v).transpose(1, 2)
        position_scores = shift_relative(torch.matmul(q_position, p.transpose(-2, -1)))
        bias = position_scores / math.sqrt(self.head_dim)
        if allowed is not None:
            bias = bias.masked_fill(~allowed, float("-inf"))
        context = F.scaled_dot_product_attention(q_content, k, v, attn_mask=bias)
        return self.linear_out(context.transpose(1, 2).reshape(batch, length, -1))


class PositionwiseFeedForward(nn.Module):
    def __init__(self, size: int, hidden: int, activation: str, **factory: Any) -> None:
        super().__init__()
        self.w_1 = nn.Linear(size, hidden, **factory)
        self.activation = _ACTIVATIONS[activation]()
        self.w_2 = nn.Linear(hidden, size, **factory)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w_2(self.activation(self.w_1(x)))


class ConvolutionModule(nn.Module):
    """Conformer's GLU pointwise conv -> depthwise conv -> norm -> activation -> pointwise."""

    def __init__(self, config: ConformerConfig, **factory: Any) -> None:
        super().__init__()
        size, kernel = config.output_size, config.cnn_module_kernel
        if kernel % 2 == 0:
            raise ValueError("encoder cnn_module_kernel must be odd")
        self.pointwise_conv1 = nn.Conv1d(size, 2 * size, 1, **factory)
        self.depthwise_conv = nn.Conv1d(
            size, size, kernel, padding=(kernel - 1) // 2, groups=size, **factory
        )
        self.layer_norm = config.cnn_module_norm == "layer_norm"
        self.norm = (
            nn.LayerNorm(size, **factory) if self.layer_norm else nn.BatchNorm1d(size, **factory)
        )
        self.pointwise_conv2 = nn.Conv1d(size, size, 1, **factory)
        self.activation = _ACTIVATIONS[config.activation_type]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.glu(self.pointwise_conv1(x.transpose(1, 2)), dim=1)
        x = self.depthwise_conv(x)
        if self.layer_norm:
            x = self.norm(x.transpose(1, 2)).transpose(1, 2)
        else:
            x = self.norm(x)
        return self.pointwise_conv2(self.activation(x)).transpose(1, 2)


class ConformerLayer(nn.Module):
    """(macaron FF/2) -> self-attention -> (convolution) -> FF (/2 with macaron) -> (final norm)."""

    def __init__(self, config: ConformerConfig, **factory: Any) -> None:
        super().__init__()
        size = config.output_size
        self.pre_norm = config.normalize_before
        self.self_attn = RelPositionSelfAttention(
            config.attention_heads, size, config.key_bias, **factory
        )
        self.feed_forward = PositionwiseFeedForward(
            size, config.linear_units, config.activation_type, **factory
        )
        self.norm_ff = nn.LayerNorm(size, eps=1e-5, **factory)
        self.norm_mha = nn.LayerNorm(size, eps=1e-5, **factory)
        self.feed_forward_macaron: PositionwiseFeedForward | None = None
        self.ff_scale = 1.0
        if config.macaron_style:
            self.feed_forward_macaron = PositionwiseFeedForward(
                size, config.linear_units, config.activation_type, **factory
            )
            self.norm_ff_macaron = nn.LayerNorm(size, eps=1e-5, **factory)
            self.ff_scale = 0.5
        self.conv_module: ConvolutionModule | None = None
        if config.use_cnn_module:
            self.conv_module = ConvolutionModule(config, **factory)
            self.norm_conv = nn.LayerNorm(size, eps=1e-5, **factory)
            self.norm_final = nn.LayerNorm(size, eps=1e-5, **factory)

    def _residual(
        self, x: torch.Tensor, norm: nn.Module, block: Any, scale: float = 1.0
    ) -> torch.Tensor:
        out = x + scale * block(norm(x) if self.pre_norm else x)
        return out if self.pre_norm else norm(out)

    def forward(
        self, x: torch.Tensor, pos_table: torch.Tensor, allowed: torch.Tensor | None
    ) -> torch.Tensor:
        if self.feed_forward_macaron is not None:
            x = self._residual(x, self.norm_ff_macaron, self.feed_forward_macaron, self.ff_scale)
        x = self._residual(x, self.norm_mha, lambda h: self.self_attn(h, pos_table, allowed))
        if self.conv_module is not None:
            x = self._residual(x, self.norm_conv, self.conv_module)
        x = self._residual(x, self.norm_ff, self.feed_forward, self.ff_scale)
        if self.conv_module is not None:
            x = self.norm_final(x)
        return x


class LinearEmbed(nn.Module):
    """``input_layer: linear``: Linear + LayerNorm, then the ESPnet scaling by sqrt(d)."""

    def __init__(self, input_size: int, output_size: int, **factory: Any) -> None:
        super().__init__()
        self.out = nn.Sequential(
            nn.Linear(input_size, output_size, **factory),
            nn.LayerNorm(output_size, eps=1e-5, **factory),
        )
        self.scale = math.sqrt(output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(x) * self.scale


class ConformerEncoder(nn.Module):
    """Token embeddings (B, T, input_size) -> encodings (B, T, output_size), full context
    (or CosyVoice's block-causal mask when ``static_chunk_size`` > 0)."""

    def __init__(self, config: ConformerConfig, **factory: Any) -> None:
        super().__init__()
        self.config = config
        self.embed = LinearEmbed(config.input_size, config.output_size, **factory)
        self.encoders = nn.ModuleList(
            ConformerLayer(config, **factory) for _ in range(config.num_blocks)
        )
        self.after_norm = nn.LayerNorm(config.output_size, eps=1e-5, **factory)

    def output_size(self) -> int:
        return self.config.output_size

    def _chunk_mask(self, length: int, device: torch.device) -> torch.Tensor | None:
        chunk = self.config.static_chunk_size
        if chunk <= 0:
            return None
        positions = torch.arange(length, device=device)
        return positions[None, :] < ((positions[:, None] // chunk) + 1) * chunk

    def forward(self, xs: torch.Tensor) -> torch.Tensor:
        xs = self.embed(xs)
        length = xs.shape[1]
        pos_table = relative_position_table(length, self.config.output_size)
        pos_table = pos_table.to(device=xs.device, dtype=xs.dtype)
        allowed = self._chunk_mask(length, xs.device)
        for layer in self.encoders:
            xs = layer(xs, pos_table, allowed)
        return self.after_norm(xs) if self.config.normalize_before else xs
