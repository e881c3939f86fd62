"""HiFT's neural-source-filter excitation: harmonic sines driven by the predicted F0, plus noise.

The released SineGen draws its random initial phases and its noise from the global RNG in one
go over the whole utterance, so no chunked stream could ever reproduce it. Here every random
number is a function of (seed, absolute sample position): the noise of a fixed block of samples
comes from a generator seeded by the block's index, so offline synthesis and any chunking of a
stream see exactly the same numbers, and the same seed always gives the same audio.

The running phase is kept in cycles and in float64, wrapped to [0, 1) at frame starts: the
released float32 cumulative sum loses phase precision over long utterances, this does not.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

NOISE_BLOCK_SAMPLES = 4096
"""Samples per counter-seeded noise block (a multiple of the 256-sample hop is not required)."""

_MASK64 = (1 << 64) - 1


def _splitmix64(value: int) -> int:
    """One splitmix64 step: neighbouring inputs give unrelated 64-bit outputs."""
    z = (value + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def _generator_for(seed: int, counter: int) -> torch.Generator:
    """A CPU generator for draw number `counter` of the stream `seed` (counter 0: the phases)."""
    generator = torch.Generator(device="cpu")
    generator.manual_seed(_splitmix64(_splitmix64(seed & _MASK64) ^ counter))
    return generator


def seed_from(generator: torch.Generator | None) -> int:
    """One 63-bit seed drawn from `generator` (the global RNG when None) for a whole synthesis."""
    device = generator.device if generator is not None else torch.device("cpu")
    return int(torch.randint(0, 2**63 - 1, (), generator=generator, device=device))


def initial_phases(seed: int, channels: int) -> Tensor:
    """Random start phases in radians, uniform in [-pi, pi); the fundamental starts at 0."""
    draws = torch.rand(channels, generator=_generator_for(seed, 0), dtype=torch.float64)
    phases = (draws * 2.0 - 1.0) * math.pi
    phases[0] = 0.0
    return phases.to(torch.float32)


def source_noise(seed: int, start: int, length: int, channels: int) -> Tensor:
    """Standard normal noise [channels, length] for absolute samples [start, start + length)."""
    if length <= 0:
        return torch.zeros(channels, 0)
    first_block = start // NOISE_BLOCK_SAMPLES
    last_block = (start + length - 1) // NOISE_BLOCK_SAMPLES
    blocks = [
        torch.randn(channels, NOISE_BLOCK_SAMPLES, generator=_generator_for(seed, block + 1))
        for block in range(first_block, last_block + 1)
    ]
    offset = start - first_block * NOISE_BLOCK_SAMPLES
    return torch.cat(blocks, dim=1)[:, offset : offset + length]


class HarmonicSource(nn.Module):
    """F0 per frame -> one excitation sample stream: tanh(Linear(harmonic sines * uv + noise)).

    `l_linear` keeps the released name (`m_source.l_linear`). The module always runs in float32:
    it is tiny and phases are precision-sensitive.
    """

    def __init__(
        self,
        sampling_rate: int,
        nb_harmonics: int,
        sine_amp: float,
        noise_std: float,
        voiced_threshold: float,
        samples_per_frame: int,
        device: torch.device | str = "cpu",
    ) -> None:
        super().__init__()
        self.sampling_rate = sampling_rate
        self.channels = nb_harmonics + 1
        self.sine_amp = sine_amp
        self.noise_std = noise_std
        self.voiced_threshold = voiced_threshold
        self.samples_per_frame = samples_per_frame
        self.l_linear = nn.Linear(self.channels, 1, device=device, dtype=torch.float32)

    def cycles_per_sample(self, f0: Tensor) -> Tensor:
        """[F] Hz -> [F, channels] float64 phase advance of each harmonic per sample, in cycles."""
        multiples = torch.arange(1, self.channels + 1, dtype=torch.float64, device=f0.device)
        return f0.to(torch.float64)[:, None] * multiples[None, :] / self.sampling_rate

    @torch.inference_mode()
    def forward(
        self, f0: Tensor, first_frame: int, start_cycles: Tensor, seed: int
    ) -> tuple[Tensor, Tensor]:
        """Excitation for frames [first_frame, first_frame + F) given their F0 [F] in Hz.

        start_cycles [channels] float64: the accumulated phase before the first frame (wrapped).
        Returns (samples [F * samples_per_frame] float32, the phase after the last frame).
        """
        frames = f0.shape[0]
        hop = self.samples_per_frame
        step = self.cycles_per_sample(f0)  # [F, C]
        start = start_cycles.to(step)
        per_frame = step * hop
        # phase before each frame (exclusive cumulative sum); the sample k of a frame adds (k+1)
        # steps, as the released inclusive cumulative sum over nearest-upsampled F0 does
        frame_starts = torch.remainder(start + torch.cumsum(per_frame, dim=0) - per_frame, 1.0)
        ticks = torch.arange(1, hop + 1, dtype=torch.float64, device=f0.device)
        cycles = frame_starts[:, None, :] + ticks[None, :, None] * step[:, None, :]
        cycles = cycles - torch.floor(cycles)  # [F, hop, C]
        phases = initial_phases(seed, self.channels).to(f0.device)
        sines = self.sine_amp * torch.sin(2.0 * math.pi * cycles.to(torch.float32) + phases)
        voiced = (f0 > self.voiced_threshold).to(torch.float32)[:, None, None]
        noise = source_noise(seed, first_frame * hop, frames * hop, self.channels)
        noise = noise.to(f0.device).T.reshape(frames, hop, self.channels)
        noise_amp = voiced * self.noise_std + (1.0 - voiced) * (self.sine_amp / 3.0)
        excitation = (sines * voiced + noise_amp * noise).reshape(frames * hop, self.channels)
        merged = torch.tanh(self.l_linear(excitation))[:, 0]
        end = torch.remainder(start + per_frame.sum(dim=0), 1.0)
        return merged, end
