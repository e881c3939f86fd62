"""The flow's vector-field estimator: CosyVoice's ConditionalDecoder, a 1-D U-Net (Matcha-TTS)
whose every level is a time-conditioned ResNet block followed by transformer blocks (diffusers'
BasicTransformerBlock: self-attention + GELU feed-forward).

Input: the noisy mel x, the encoder's mu, the speaker vector and the prompt frames, stacked on
channels (4 x 80 = 320); output: d x / d t (80 channels). Parameter names follow ``flow.pt``
under ``decoder.estimator.``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

_INERT = {"dropout"}  # accepted; no effect at inference


@dataclass(frozen=True)
class EstimatorConfig:
    in_channels: int
    out_channels: int
    channels: tuple[int, ...] = (256, 256)
    attention_head_dim: int = 64
    n_blocks: int = 1
    num_mid_blocks: int = 2
    num_heads: int = 4
    act_fn: str = "snake"

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any]) -> EstimatorConfig:
        names = set(cls.__dataclass_fields__)
        unknown = set(kwargs) - names - _INERT
        if unknown:
            raise ValueError(f"unknown ConditionalDecoder arguments {sorted(unknown)}")
        values = {k: v for k, v in kwargs.items() if k in names}
        if "channels" in values:
            values["channels"] = tuple(int(c) for c in values["channels"])
        config = cls(**values)
        if config.act_fn not in ("gelu", "gelu-approximate"):
            raise ValueError(f"estimator act_fn={config.act_fn!r} is not supported (only 'gelu')")
        if not config.channels or any(c % 8 for c in config.channels):
            raise ValueError("estimator channels must be multiples of 8 (GroupNorm(8))")
        if config.in_channels % 2:
            raise ValueError("estimator in_channels must be even (sinusoidal time embedding)")
        return config


def timestep_sinusoids(t: torch.Tensor, dim: int, scale: float = 1000.0) -> torch.Tensor:
    """Matcha's time embedding: sin | cos of scale * t * 10000^(-k / (dim/2 - 1)). (B, dim)."""
    half = dim // 2
    frequencies = torch.exp(
        torch.arange(half, device=t.device).float() * -(math.log(10000) / (half - 1))
    )
    angles = scale * t.reshape(-1, 1) * frequencies[None, :]
    return torch.cat((angles.sin(), angles.cos()), dim=-1)


class TimestepMLP(nn.Module):
    def __init__(self, in_channels: int, width: int, **factory: Any) -> None:
        super().__init__()
        self.linear_1 = nn.Linear(in_channels, width, **factory)
        self.act = nn.SiLU()
        self.linear_2 = nn.Linear(width, width, **factory)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_2(self.act(self.linear_1(x)))


class Block1D(nn.Module):
    """Conv(3) -> GroupNorm(8) -> Mish, with the frame mask applied before and after."""

    def __init__(self, dim: int, dim_out: int, **factory: Any) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv1d(dim, dim_out, 3, padding=1, **factory),
            nn.GroupNorm(8, dim_out, **factory),
            nn.Mish(),
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.block(x * mask) * mask


class ResnetBlock1D(nn.Module):
    def __init__(self, dim: int, dim_out: int, time_dim: int, **factory: Any) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Mish(), nn.Linear(time_dim, dim_out, **factory))
        self.block1 = Block1D(dim, dim_out, **factory)
        self.block2 = Block1D(dim_out, dim_out, **factory)
        self.res_conv = nn.Conv1d(dim, dim_out, 1, **factory)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, time: torch.Tensor) -> torch.Tensor:
        h = self.block1(x, mask) + self.mlp(time).unsqueeze(-1)
        return self.block2(h, mask) + self.res_conv(x * mask)


class Downsample1D(nn.Module):
    def __init__(self, dim: int, **factory: Any) -> None:
        super().__init__()
        self.conv = nn.Conv1d(dim, dim, 3, 2, 1, **factory)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample1D(nn.Module):
    def __init__(self, dim: int, **factory: Any) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose1d(dim, dim, 4, 2, 1, **factory)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class SelfAttention(nn.Module):
    """diffusers' Attention as the block builds it: no q/k/v bias, biased output projection."""

    def __init__(self, dim: int, heads: int, head_dim: int, **factory: Any) -> None:
        super().__init__()
        self.heads = heads
        inner = heads * head_dim
        self.to_q = nn.Linear(dim, inner, bias=False, **factory)
        self.to_k = nn.Linear(dim, inner, bias=False, **factory)
        self.to_v = nn.Linear(dim, inner, bias=False, **factory)
        self.to_out = nn.ModuleList([nn.Linear(inner, dim, **factory)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(batch, length, self.heads, -1).transpose(1, 2)

        context = F.scaled_dot_product_attention(
            split(self.to_q(x)), split(self.to_k(x)), split(self.to_v(x))
        )
        return self.to_out[0](context.transpose(1, 2).reshape(batch, length, -1))


class GELUProjection(nn.Module):
    def __init__(self, dim: int, inner: int, approximate: str, **factory: Any) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, inner, **factory)
        self.approximate = approximate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.proj(x), approximate=self.approximate)


class FeedForward(nn.Module):
    def __init__(self, dim: int, act_fn: str, mult: int = 4, **factory: Any) -> None:
        super().__init__()
        approximate = "tanh" if act_fn == "gelu-approximate" else "none"
        # net.1 is the released dropout slot (no parameters), kept so net.2 keeps its name.
        self.net = nn.ModuleList(
            [
                GELUProjection(dim, dim * mult, approximate, **factory),
                nn.Identity(),
                nn.Linear(dim * mult, dim, **factory),
            ]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for module in self.net:
            x = module(x)
        return x


class TransformerBlock(nn.Module):
    """Pre-norm self-attention and feed-forward, each residual (norm2/attn2 are never built)."""

    def __init__(self, dim: int, config: EstimatorConfig, **factory: Any) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, **factory)
        self.attn1 = SelfAttention(dim, config.num_heads, config.attention_head_dim, **factory)
        self.norm3 = nn.LayerNorm(dim, **factory)
        self.ff = FeedForward(dim, config.act_fn, **factory)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn1(self.norm1(x))
        return x + self.ff(self.norm3(x))


def _transformers(dim: int, config: EstimatorConfig, **factory: Any) -> nn.ModuleList:
    return nn.ModuleList(TransformerBlock(dim, config, **factory) for _ in range(config.n_blocks))


def _run_transformers(blocks: nn.ModuleList, x: torch.Tensor) -> torch.Tensor:
    x = x.transpose(1, 2)
    for block in blocks:
        x = block(x)
    return x.transpose(1, 2)


class ConditionalDecoder(nn.Module):
    """Down levels (the last one without striding), mid levels, up levels with skips."""

    def __init__(self, config: EstimatorConfig, **factory: Any) -> None:
        super().__init__()
        self.config = config
        channels = config.channels
        time_dim = channels[0] * 4
        self.time_mlp = TimestepMLP(config.in_channels, time_dim, **factory)
        self.down_blocks = nn.ModuleList()
        previous = config.in_channels
        for index, width in enumerate(channels):
            last = index == len(channels) - 1
            resample: nn.Module = (
                nn.Conv1d(width, width, 3, padding=1, **factory)
                if last
                else Downsample1D(width, **factory)
            )
            self.down_blocks.append(
                nn.ModuleList(
                    [
                        ResnetBlock1D(previous, width, time_dim, **factory),
                        _transformers(width, config, **factory),
                        resample,
                    ]
                )
            )
            previous = width
        self.mid_blocks = nn.ModuleList(
            nn.ModuleList(
                [
                    ResnetBlock1D(channels[-1], channels[-1], time_dim, **factory),
                    _transformers(channels[-1], config, **factory),
                ]
            )
            for _ in range(config.num_mid_blocks)
        )
        widths = (*channels[::-1], channels[0])
        self.up_blocks = nn.ModuleList()
        for index in range(len(widths) - 1):
            width = widths[index + 1]
            last = index == len(widths) - 2
            resample = (
                nn.Conv1d(width, width, 3, padding=1, **factory)
                if last
                else Upsample1D(width, **factory)
            )
            self.up_blocks.append(
                nn.ModuleList(
                    [
                        ResnetBlock1D(widths[index] * 2, width, time_dim, **factory),
                        _transformers(width, config, **factory),
                        resample,
                    ]
                )
            )
        self.final_block = Block1D(widths[-1], widths[-1], **factory)
        self.final_proj = nn.Conv1d(widths[-1], config.out_channels, 1, **factory)

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        mu: torch.Tensor,
        t: torch.Tensor,
        spks: torch.Tensor,
        cond: torch.Tensor,
    ) -> torch.Tensor:
        """x, mu, cond: (B, 80, L); mask: (B, 1, L); t: (B,); spks: (B, 80) -> (B, 80, L)."""
        time = timestep_sinusoids(t, self.config.in_channels).to(t.dtype)
        time = self.time_mlp(time)
        speaker = spks[:, :, None].expand(-1, -1, x.shape[-1])
        x = torch.cat([x, mu, speaker, cond.to(x.dtype)], dim=1)
        skips: list[torch.Tensor] = []
        masks = [mask]
        for resnet, transformers, downsample in self.down_blocks:
            level_mask = masks[-1]
            x = _run_transformers(transformers, resnet(x, level_mask, time))
            skips.append(x)
            x = downsample(x * level_mask)
            masks.append(level_mask[:, :, ::2])
        masks.pop()
        for resnet, transformers in self.mid_blocks:
            x = _run_transformers(transformers, resnet(x, masks[-1], time))
        for resnet, transformers, upsample in self.up_blocks:
            level_mask = masks.pop()
            skip = skips.pop()
            x = torch.cat([x[:, :, : skip.shape[-1]], skip], dim=1)
            x = _run_transformers(transformers, resnet(x, level_mask, time))
            x = upsample(x * level_mask)
        x = self.final_block(x, level_mask)
        return self.final_proj(x * level_mask) * mask
