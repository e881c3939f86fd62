"""The prompt's mel spectrogram, as Matcha-TTS's ``mel_spectrogram`` (the released yaml's
``feat_extractor``) computes it: reflect-pad (n_fft - hop) / 2 on both sides, an uncentred STFT
with a periodic Hann window, magnitude sqrt(re^2 + im^2 + 1e-9), Slaney mel filters,
log(max(x, 1e-5)). Written in torch so librosa is not needed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from stepaudio_codec.mel_filters import mel_filterbank

_SETTING_NAMES = ("n_fft", "num_mels", "sampling_rate", "hop_size", "win_size", "fmin", "fmax")


@dataclass(frozen=True)
class MelSettings:
    n_fft: int = 1024
    num_mels: int = 80
    sampling_rate: int = 22050
    hop_size: int = 256
    win_size: int = 1024
    fmin: float = 0.0
    fmax: float | None = 8000.0
    center: bool = False

    @classmethod
    def from_spec(cls, spec: Any) -> MelSettings:
        """From the yaml's ``feat_extractor`` (a Spec of matcha's mel_spectrogram) or a dict;
        None gives the released settings."""
        if spec is None:
            return cls()
        kwargs = spec.kwargs if hasattr(spec, "kwargs") else dict(spec)
        target = getattr(spec, "target", "matcha.utils.audio.mel_spectrogram")
        if not target.endswith("mel_spectrogram"):
            raise ValueError(f"feat_extractor is {target}, expected matcha's mel_spectrogram")
        unknown = set(kwargs) - set(_SETTING_NAMES) - {"center"}
        if unknown:
            raise ValueError(f"unknown feat_extractor arguments {sorted(unknown)}")
        settings = cls(**kwargs)
        if settings.center:
            raise ValueError("feat_extractor center=True is not supported (released: False)")
        return settings

    def compute(self, audio: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Mono audio at ``sampling_rate`` in [-1, 1], shape (N,) or (1, N) -> (1, F, num_mels)
        float32 with F = (N - hop) // hop + 1 frames."""
        samples = torch.as_tensor(np.asarray(audio, dtype=np.float32)).reshape(-1)
        pad = (self.n_fft - self.hop_size) // 2
        if samples.numel() <= pad:
            raise ValueError(f"prompt audio too short ({samples.numel()} samples, need > {pad})")
        padded = F.pad(samples[None, None], (pad, pad), mode="reflect")[0]
        spectrum = torch.stft(
            padded,
            self.n_fft,
            hop_length=self.hop_size,
            win_length=self.win_size,
            window=torch.hann_window(self.win_size),
            center=False,
            normalized=False,
            onesided=True,
            return_complex=True,
        )
        magnitude = torch.sqrt(spectrum.real**2 + spectrum.imag**2 + 1e-9)
        filters = torch.tensor(
            mel_filterbank(self.sampling_rate, self.n_fft, self.num_mels, self.fmin, self.fmax)
        )
        mel = torch.log(torch.clamp(filters @ magnitude, min=1e-5))  # (1, mels, F)
        return mel.transpose(1, 2).contiguous()


def prompt_mel(audio22k: np.ndarray, settings: MelSettings | None = None) -> torch.Tensor:
    """The flow's prompt feature (1, F, 80) for 22.05 kHz mono audio."""
    return (settings or MelSettings()).compute(audio22k)
