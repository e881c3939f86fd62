"""The streaming SAN-M encoder of FunASR's online Paraformer (`SANMEncoderChunkOpt`).

Each layer is pre-norm: SAN-M attention (multi-head self-attention plus an FSMN memory block, a
depthwise convolution over the values) and a ReLU feed-forward. The first layer maps the 560-dim
stacked features to the model width and has no residual around its attention.

Streaming as Step-Audio runs it (chunk_size (0, 4, 5), look-back 4): every chunk of L stacked
frames is scaled by sqrt(width), gets a sinusoidal position code counted from the clip's start, and
is prefixed with the last 5 inputs of the previous chunk (zeros at first). Each layer attends from
that window to itself plus the keys/values it cached from earlier windows (each window adds its
first `len - 5` rows; the newest `look_back * 4` are kept). The FSMN block sees the window only.
The chunk's output is the window's last L rows. Module names equal the released state dict's
(`encoders0.0.self_attn.linear_q_k_v.weight`, `encoders.N.feed_forward.w_1.weight`, `after_norm`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

# FunASR's LayerNorm
LAYER_NORM_EPS = 1e-12


@dataclass(frozen=True, slots=True)
class SanmEncoderConfig:
    """`encoder_conf` of the released config.yaml (the fields the weights and outputs depend on)."""

    input_size: int
    output_size: int = 512
    attention_heads: int = 4
    linear_units: int = 2048
    num_blocks: int = 50
    kernel_size: int = 11
    sanm_shift: int = 0

    @classmethod
    def from_yaml(cls, conf: dict[str, Any], input_size: int) -> SanmEncoderConfig:
        """Raises ValueError for a variant this module does not implement."""
        wanted = {
            "input_layer": "pe_online",
            "selfattention_layer_type": "sanm",
            "normalize_before": True,
            "concat_after": False,
            "positionwise_layer_type": "linear",
        }
        for key, value in wanted.items():
            if key in conf and conf[key] != value:
                raise ValueError(
                    f"encoder_conf.{key} is {conf[key]!r}, only {value!r} is supported"
                )
        config = cls(
            input_size=input_size,
            output_size=int(conf.get("output_size", 256)),
            attention_heads=int(conf.get("attention_heads", 4)),
            linear_units=int(conf.get("linear_units", 2048)),
            num_blocks=int(conf.get("num_blocks", 6)),
            kernel_size=int(conf.get("kernel_size", 11)),
            # FunASR spells it "sanm_shfit"
            sanm_shift=int(conf.get("sanm_shfit", conf.get("sanm_shift", 0))),
        )
        if config.output_size % config.attention_heads or config.num_blocks < 1:
            raise ValueError(f"inconsistent encoder_conf: {config}")
        return config


@dataclass(slots=True)
class LayerKV:
    """One layer's cached keys and values, (batch, heads, frames, head_dim)."""

    k: torch.Tensor
    v: torch.Tensor


@dataclass(slots=True)
class EncoderStreamCache:
    """One clip's encoder state between chunks."""

    chunk_size: tuple[int, int, int]
    look_back: int
    overlap: torch.Tensor  # (1, chunk_size[0] + chunk_size[2], input_size): the previous inputs
    position: int = 0  # stacked frames seen so far (the position code's offset)
    layers: list[LayerKV | None] = field(default_factory=list)


def sinusoidal_encoding(start: int, count: int, dim: int, device: torch.device) -> torch.Tensor:
    """(count, dim) float32 codes of positions start+1 .. start+count: [sin(p w_i), cos(p w_i)]
    with w_i = 10000^(-i / (dim/2 - 1))."""
    half = dim // 2
    increment = torch.log(torch.tensor(10000.0, device=device)) / (half - 1)
    inverse = torch.exp(torch.arange(half, device=device, dtype=torch.float32) * -increment)
    positions = torch.arange(start + 1, start + count + 1, device=device, dtype=torch.float32)
    angles = positions[:, None] * inverse[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


class SanmAttention(nn.Module):
    """Multi-head self-attention over the window (plus cached keys/values) + FSMN memory."""

    def __init__(
        self, heads: int, in_size: int, size: int, kernel_size: int, shift: int, **factory: Any
    ):
        super().__init__()
        self.heads = heads
        self.head_dim = size // heads
        self.size = size
        self.linear_out = nn.Linear(size, size, **factory)
        self.linear_q_k_v = nn.Linear(in_size, 3 * size, **factory)
        self.fsmn_block = nn.Conv1d(
            size, size, kernel_size, groups=size, bias=False, padding=0, **factory
        )
        left = (kernel_size - 1) // 2 + max(shift, 0)
        self.fsmn_padding = (left, kernel_size - 1 - left)

    def memory(self, values: torch.Tensor) -> torch.Tensor:
        """FSMN: values + depthwise conv over time (zero padded), (b, t, size)."""
        padded = nn.functional.pad(values.transpose(1, 2), self.fsmn_padding)
        return self.fsmn_block(padded).transpose(1, 2) + values

    def forward(
        self,
        x: torch.Tensor,
        cache: LayerKV | None,
        chunk_size: tuple[int, int, int],
        look_back: int,
    ) -> tuple[torch.Tensor, LayerKV | None]:
        b, t, _ = x.shape
        q, k, v = self.linear_q_k_v(x).split(self.size, dim=-1)
        q_h, k_h, v_h = (y.view(b, t, self.heads, self.head_dim).transpose(1, 2) for y in (q, k, v))
        next_cache: LayerKV | None = None
        if look_back != 0:
            # the rows that are no longer right context next time are kept for later windows
            stride = t - chunk_size[2]
            k_stride, v_stride = k_h[:, :, :stride], v_h[:, :, :stride]
            if cache is None:
                next_cache = LayerKV(k_stride, v_stride)
            else:
                k_h = torch.cat([cache.k, k_h], dim=2)
                v_h = torch.cat([cache.v, v_h], dim=2)
                k_keep = torch.cat([cache.k, k_stride], dim=2)
                v_keep = torch.cat([cache.v, v_stride], dim=2)
                if look_back > 0:
                    keep = look_back * chunk_size[1]
                    k_keep, v_keep = k_keep[:, :, -keep:], v_keep[:, :, -keep:]
                next_cache = LayerKV(k_keep, v_keep)
        scores = torch.matmul(q_h * self.head_dim**-0.5, k_h.transpose(-2, -1))
        weights = torch.softmax(scores.float(), dim=-1).to(v_h.dtype)
        context = torch.matmul(weights, v_h).transpose(1, 2).reshape(b, t, self.size)
        return self.linear_out(context) + self.memory(v), next_cache


class FeedForward(nn.Module):
    def __init__(self, size: int, hidden: int, **factory: Any):
        super().__init__()
        self.w_1 = nn.Linear(size, hidden, **factory)
        self.w_2 = nn.Linear(hidden, size, **factory)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w_2(torch.relu(self.w_1(x)))


class SanmLayer(nn.Module):
    """Pre-norm SAN-M block; without residual around the attention when the width changes."""

    def __init__(self, config: SanmEncoderConfig, in_size: int, **factory: Any):
        super().__init__()
        size = config.output_size
        self.residual_attention = in_size == size
        self.self_attn = SanmAttention(
            config.attention_heads, in_size, size, config.kernel_size, config.sanm_shift, **factory
        )
        self.feed_forward = FeedForward(size, config.linear_units, **factory)
        self.norm1 = nn.LayerNorm(in_size, eps=LAYER_NORM_EPS, **factory)
        self.norm2 = nn.LayerNorm(size, eps=LAYER_NORM_EPS, **factory)

    def forward(
        self,
        x: torch.Tensor,
        cache: LayerKV | None,
        chunk_size: tuple[int, int, int],
        look_back: int,
    ) -> tuple[torch.Tensor, LayerKV | None]:
        attended, cache = self.self_attn(self.norm1(x), cache, chunk_size, look_back)
        x = x + attended if self.residual_attention else attended
        return x + self.feed_forward(self.norm2(x)), cache


class SanmChunkEncoder(nn.Module):
    """The encoder; `forward_chunk` runs one chunk against an `EncoderStreamCache`."""

    def __init__(
        self,
        config: SanmEncoderConfig,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.config = config
        self.encoders0 = nn.ModuleList([SanmLayer(config, config.input_size, **factory)])
        self.encoders = nn.ModuleList(
            SanmLayer(config, config.output_size, **factory) for _ in range(config.num_blocks - 1)
        )
        self.after_norm = nn.LayerNorm(config.output_size, eps=LAYER_NORM_EPS, **factory)

    def layers(self) -> list[SanmLayer]:
        return [*self.encoders0, *self.encoders]  # type: ignore[list-item]

    def new_cache(
        self, chunk_size: tuple[int, int, int] = (0, 4, 5), look_back: int = 4
    ) -> EncoderStreamCache:
        param = self.after_norm.weight
        overlap_shape = (1, chunk_size[0] + chunk_size[2], self.config.input_size)
        overlap = torch.zeros(overlap_shape, device=param.device, dtype=param.dtype)
        return EncoderStreamCache(
            chunk_size=chunk_size,
            look_back=look_back,
            overlap=overlap,
            layers=[None] * self.config.num_blocks,
        )

    def forward_chunk(self, feats: torch.Tensor, cache: EncoderStreamCache) -> torch.Tensor:
        """(1, L, input_size) stacked features -> (1, L, output_size); updates `cache`."""
        param = self.after_norm.weight
        count = feats.shape[1]
        x = feats.to(device=param.device, dtype=torch.float32) * math.sqrt(self.config.output_size)
        x = x + sinusoidal_encoding(cache.position, count, x.shape[-1], x.device)
        cache.position += count
        window = torch.cat([cache.overlap, x.to(param.dtype)], dim=1)
        keep = cache.chunk_size[0] + cache.chunk_size[2]
        cache.overlap = window[:, window.shape[1] - keep :]
        for index, layer in enumerate(self.layers()):
            window, cache.layers[index] = layer(
                window, cache.layers[index], cache.chunk_size, cache.look_back
            )
        return self.after_norm(window)[:, -count:]
