"""The layers HiFT is built from: Snake residual blocks, the F0 predictor, weight-normed convs.

Attribute names follow the released tensor names (`convs1.0`, `activations1.0.alpha`,
`condnet.0`, ...), since hift.pt is a plain state dict of the released module tree.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class NormedConv1d(nn.Conv1d):
    """A Conv1d that the release stores weight-normalised (`weight_g`, `weight_v`).

    At inference it is a plain conv: the loader folds g * v / |v| into `weight` once.
    """


class NormedConvTranspose1d(nn.ConvTranspose1d):
    """A ConvTranspose1d stored weight-normalised (g over dim 0, the input channels)."""


WEIGHT_NORMED = (NormedConv1d, NormedConvTranspose1d)


class Snake(nn.Module):
    """Snake activation x + sin^2(alpha x) / alpha with one linear-scale alpha per channel."""

    def __init__(
        self, channels: int, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
    ) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(channels, device=device, dtype=dtype))

    def forward(self, x: Tensor) -> Tensor:
        alpha = self.alpha[None, :, None]
        return x + torch.sin(alpha * x).pow(2) / (alpha + 1e-9)


class SnakeResBlock(nn.Module):
    """HiFi-GAN residual block: per dilation, x += conv2(snake(conv1_dilated(snake(x))))."""

    def __init__(
        self,
        channels: int,
        kernel_size: int,
        dilations: tuple[int, ...],
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        self.convs1 = nn.ModuleList(
            NormedConv1d(
                channels,
                channels,
                kernel_size,
                dilation=d,
                padding=d * (kernel_size - 1) // 2,
                **kw,
            )
            for d in dilations
        )
        self.convs2 = nn.ModuleList(
            NormedConv1d(channels, channels, kernel_size, padding=(kernel_size - 1) // 2, **kw)
            for _ in dilations
        )
        self.activations1 = nn.ModuleList(Snake(channels, **kw) for _ in dilations)
        self.activations2 = nn.ModuleList(Snake(channels, **kw) for _ in dilations)

    def forward(self, x: Tensor) -> Tensor:
        for act1, conv1, act2, conv2 in zip(
            self.activations1, self.convs1, self.activations2, self.convs2, strict=True
        ):
            x = x + conv2(act2(conv1(act1(x))))
        return x


def resblock_radius(kernel_size: int, dilations: tuple[int, ...]) -> int:
    """Samples either side a SnakeResBlock's output depends on."""
    half = (kernel_size - 1) // 2
    return sum(d * half + half for d in dilations)


F0_CONV_LAYERS = 5
"""ConvRNNF0Predictor's condnet: five kernel-3 convs, so F0 sees 5 mel frames either side."""


class F0Predictor(nn.Module):
    """ConvRNNF0Predictor: five conv+ELU layers and a linear head; |output| is F0 in Hz."""

    def __init__(
        self,
        in_channels: int,
        cond_channels: int,
        num_class: int = 1,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(F0_CONV_LAYERS):
            source = in_channels if i == 0 else cond_channels
            layers.append(
                NormedConv1d(source, cond_channels, 3, padding=1, device=device, dtype=dtype)
            )
            layers.append(nn.ELU())
        self.condnet = nn.Sequential(*layers)
        self.classifier = nn.Linear(cond_channels, num_class, device=device, dtype=dtype)

    def forward(self, mel: Tensor) -> Tensor:
        """[B, in_channels, F] -> F0 [B, F] in Hz (non-negative)."""
        hidden = self.condnet(mel).transpose(1, 2)
        return self.classifier(hidden)[..., 0].abs()
