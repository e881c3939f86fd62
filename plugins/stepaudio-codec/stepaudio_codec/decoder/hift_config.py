"""The `hift:` section of cosyvoice.yaml as a typed value (HiFTGenerator's constructor kwargs)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class HiftConfig:
    """HiFTGenerator's kwargs; the defaults are the CosyVoice-300M values Step-Audio ships."""

    in_channels: int = 80
    base_channels: int = 512
    nb_harmonics: int = 8
    sampling_rate: int = 22050
    nsf_alpha: float = 0.1
    nsf_sigma: float = 0.003
    nsf_voiced_threshold: float = 10.0
    upsample_rates: tuple[int, ...] = (8, 8)
    upsample_kernel_sizes: tuple[int, ...] = (16, 16)
    n_fft: int = 16
    hop_len: int = 4
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 3, 5),) * 3
    source_resblock_kernel_sizes: tuple[int, ...] = (7, 11)
    source_resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 3, 5),) * 2
    lrelu_slope: float = 0.1
    audio_limit: float = 0.99
    f0_num_class: int = 1
    f0_in_channels: int = 80
    f0_cond_channels: int = 512

    @property
    def samples_per_frame(self) -> int:
        """Output samples per mel frame: the upsampling product times the iSTFT hop (256)."""
        return math.prod(self.upsample_rates) * self.hop_len

    @property
    def stage_channels(self) -> tuple[int, ...]:
        """Channels after each upsampling stage: base/2, base/4, ..."""
        return tuple(self.base_channels // 2 ** (i + 1) for i in range(len(self.upsample_rates)))

    @property
    def source_strides(self) -> tuple[int, ...]:
        """Stride of each stage's source_downs conv over the source STFT frames."""
        rates = self.upsample_rates
        return tuple(math.prod(rates[i + 1 :]) for i in range(len(rates)))

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any]) -> HiftConfig:
        """From the yaml section's kwargs (`f0_predictor` as a dict of its kwargs, or absent).

        A parsed-yaml object carrying its kwargs in `.kwargs` is accepted at either level.
        """
        values = dict(getattr(kwargs, "kwargs", kwargs))
        fields: dict[str, Any] = {}
        istft = values.pop("istft_params", None)
        if istft is not None:
            fields["n_fft"] = int(istft["n_fft"])
            fields["hop_len"] = int(istft["hop_len"])
        f0 = values.pop("f0_predictor", None)
        if f0 is not None:
            f0 = getattr(f0, "kwargs", f0)
            unknown = set(f0) - {"num_class", "in_channels", "cond_channels"}
            if unknown:
                raise ValueError(f"hift.f0_predictor: unknown kwargs {sorted(unknown)}")
            for key in ("num_class", "in_channels", "cond_channels"):
                if key in f0:
                    fields[f"f0_{key}"] = int(f0[key])
        known = {name for name in cls.__dataclass_fields__ if not name.startswith("f0_")}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"hift: unknown kwargs {sorted(unknown)}")
        for key, value in values.items():
            if key.endswith("dilation_sizes"):
                fields[key] = tuple(tuple(int(d) for d in row) for row in value)
            elif isinstance(value, list | tuple):
                fields[key] = tuple(int(v) for v in value)
            else:
                fields[key] = value
        config = cls(**fields)
        config.validate()
        return config

    def validate(self) -> None:
        """Reject combinations the generator cannot run (so the failure names the setting)."""
        if len(self.upsample_rates) != len(self.upsample_kernel_sizes):
            raise ValueError("hift: upsample_rates and upsample_kernel_sizes differ in length")
        if len(self.resblock_kernel_sizes) != len(self.resblock_dilation_sizes):
            raise ValueError("hift: resblock kernel and dilation lists differ in length")
        if len(self.source_resblock_kernel_sizes) != len(self.upsample_rates) or len(
            self.source_resblock_dilation_sizes
        ) != len(self.upsample_rates):
            raise ValueError("hift: one source resblock per upsampling stage is expected")
        if self.f0_in_channels != self.in_channels:
            raise ValueError("hift.f0_predictor.in_channels must equal hift.in_channels")
        if self.f0_num_class != 1:
            raise ValueError("hift.f0_predictor.num_class must be 1 (one F0 per frame)")
        for rate, kernel in zip(self.upsample_rates, self.upsample_kernel_sizes, strict=True):
            if (kernel - rate) % 2:
                raise ValueError("hift: upsample kernel minus rate must be even (exact hop)")

    def to_kwargs(self) -> dict[str, Any]:
        """Back to the yaml section's shape (what `from_kwargs` reads)."""
        return {
            "in_channels": self.in_channels,
            "base_channels": self.base_channels,
            "nb_harmonics": self.nb_harmonics,
            "sampling_rate": self.sampling_rate,
            "nsf_alpha": self.nsf_alpha,
            "nsf_sigma": self.nsf_sigma,
            "nsf_voiced_threshold": self.nsf_voiced_threshold,
            "upsample_rates": list(self.upsample_rates),
            "upsample_kernel_sizes": list(self.upsample_kernel_sizes),
            "istft_params": {"n_fft": self.n_fft, "hop_len": self.hop_len},
            "resblock_kernel_sizes": list(self.resblock_kernel_sizes),
            "resblock_dilation_sizes": [list(d) for d in self.resblock_dilation_sizes],
            "source_resblock_kernel_sizes": list(self.source_resblock_kernel_sizes),
            "source_resblock_dilation_sizes": [
                list(d) for d in self.source_resblock_dilation_sizes
            ],
            "lrelu_slope": self.lrelu_slope,
            "audio_limit": self.audio_limit,
            "f0_predictor": {
                "num_class": self.f0_num_class,
                "in_channels": self.f0_in_channels,
                "cond_channels": self.f0_cond_channels,
            },
        }
