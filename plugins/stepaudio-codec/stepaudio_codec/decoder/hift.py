"""HiFT: the neural-source-filter + iSTFT vocoder turning 80-bin mels into 22.05 kHz audio.

The computation of Step-Audio's CosyVoice HiFTGenerator (cosyvoice/hifigan/generator.py):
F0 is predicted from the mel, upsampled to the sample rate and drives a harmonic sine source;
the source's STFT is fused into each upsampling stage of a HiFi-GAN-style network with Snake
residual blocks; the network ends in iSTFT magnitude and phase (n_fft 16, hop 4), so each mel
frame gives 256 samples. The released file's layout lives in hift_layout.py, the stream in
hift_stream.py, the source (and its position-keyed randomness) in nsf_source.py.

The F0 predictor and the source always run in float32 (F0 feeds a phase accumulator); the
upsampling network runs in the requested dtype; STFT/iSTFT run in float32.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stepaudio_codec.decoder.hift_blocks import (
    F0Predictor,
    NormedConv1d,
    NormedConvTranspose1d,
    SnakeResBlock,
)
from stepaudio_codec.decoder.hift_config import HiftConfig
from stepaudio_codec.decoder.hift_layout import (
    check_layout,
    fold_weight_norm,
    read_state_dict,
    released_layout,
)
from stepaudio_codec.decoder.nsf_source import HarmonicSource, seed_from

if TYPE_CHECKING:
    from stepaudio_codec.decoder.hift_stream import VocoderStream

MAGNITUDE_CLIP = 1e2
"""The released iSTFT clips exp(log-magnitude) at 100 before building the spectrum."""


class HiftVocoder(nn.Module):
    """HiFTGenerator for inference; submodule names equal the released tensor-name prefixes."""

    def __init__(
        self,
        config: HiftConfig,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        self.config = config
        self.dtype = dtype
        kw: dict[str, Any] = {"device": device, "dtype": dtype}
        spec_channels = config.n_fft + 2
        self.m_source = HarmonicSource(
            sampling_rate=config.sampling_rate,
            nb_harmonics=config.nb_harmonics,
            sine_amp=config.nsf_alpha,
            noise_std=config.nsf_sigma,
            voiced_threshold=config.nsf_voiced_threshold,
            samples_per_frame=config.samples_per_frame,
            device=device,
        )
        self.conv_pre = NormedConv1d(config.in_channels, config.base_channels, 7, padding=3, **kw)
        self.ups = nn.ModuleList()
        self.source_downs = nn.ModuleList()
        self.source_resblocks = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        source_blocks = zip(
            config.source_resblock_kernel_sizes, config.source_resblock_dilation_sizes, strict=True
        )
        for i, (kernel, dilations) in enumerate(source_blocks):
            rate, up_kernel = config.upsample_rates[i], config.upsample_kernel_sizes[i]
            channels_in = config.base_channels // 2**i
            channels = config.stage_channels[i]
            self.ups.append(
                NormedConvTranspose1d(
                    channels_in, channels, up_kernel, rate, padding=(up_kernel - rate) // 2, **kw
                )
            )
            stride = config.source_strides[i]
            if stride == 1:
                down = nn.Conv1d(spec_channels, channels, 1, **kw)
            else:
                down = nn.Conv1d(
                    spec_channels, channels, 2 * stride, stride, padding=stride // 2, **kw
                )
            self.source_downs.append(down)
            self.source_resblocks.append(SnakeResBlock(channels, kernel, dilations, **kw))
            for res_kernel, res_dilations in zip(
                config.resblock_kernel_sizes, config.resblock_dilation_sizes, strict=True
            ):
                self.resblocks.append(SnakeResBlock(channels, res_kernel, res_dilations, **kw))
        self.conv_post = NormedConv1d(config.stage_channels[-1], spec_channels, 7, padding=3, **kw)
        self.f0_predictor = F0Predictor(
            config.f0_in_channels,
            config.f0_cond_channels,
            config.f0_num_class,
            device=device,
            dtype=torch.float32,
        )
        self.eval()

    @classmethod
    def load(
        cls,
        path: Path,
        kwargs: Mapping[str, Any],
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> HiftVocoder:
        """Read a released hift.pt strictly (names and shapes) and fold its weight norm."""
        path = Path(path)
        config = HiftConfig.from_kwargs(kwargs)
        state = read_state_dict(path)
        model = cls(config, device="meta", dtype=dtype)
        check_layout(path, state, released_layout(model))
        model = model.to_empty(device=device)
        model.load_state_dict(fold_weight_norm(state), strict=True)
        return model.eval()

    @property
    def device(self) -> torch.device:
        return self.conv_pre.weight.device

    @property
    def samples_per_frame(self) -> int:
        return self.config.samples_per_frame

    def _window(self) -> Tensor:
        return torch.hann_window(self.config.n_fft, periodic=True, device=self.device)

    def stft(self, signal: Tensor) -> Tensor:
        """[B, N] float32 -> [B, n_fft + 2, N / hop + 1]: real bins then imaginary bins."""
        n_fft, hop = self.config.n_fft, self.config.hop_len
        spec = torch.stft(
            signal, n_fft, hop, n_fft, window=self._window(), center=True, return_complex=True
        )
        return torch.cat([spec.real, spec.imag], dim=1)

    def istft(self, magnitude: Tensor, phase: Tensor) -> Tensor:
        """Magnitude and phase [B, n_fft/2 + 1, T] -> [B, (T - 1) * hop] samples."""
        n_fft, hop = self.config.n_fft, self.config.hop_len
        magnitude = magnitude.clamp(max=MAGNITUDE_CLIP)
        spectrum = torch.complex(magnitude * torch.cos(phase), magnitude * torch.sin(phase))
        return torch.istft(spectrum, n_fft, hop, n_fft, window=self._window(), center=True)

    @torch.inference_mode()
    def predict_f0(self, mel: Tensor) -> Tensor:
        """Mel [1, C, F] -> F0 [F] in Hz (float32)."""
        return self.f0_predictor(mel.to(self.device, torch.float32))[0]

    @torch.inference_mode()
    def synthesize(self, mel: Tensor, source: Tensor) -> Tensor:
        """Mel [1, C, F] and its excitation [F * 256] -> samples [F * 256] within audio_limit."""
        config = self.config
        spec = self.stft(source[None].to(self.device, torch.float32)).to(self.dtype)
        x = self.conv_pre(mel.to(self.device, self.dtype))
        kernels = len(config.resblock_kernel_sizes)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, config.lrelu_slope))
            if i == len(self.ups) - 1:
                x = F.pad(x, (1, 0), mode="reflect")  # aligns with the n / hop + 1 STFT frames
            x = x + self.source_resblocks[i](self.source_downs[i](spec))
            total = self.resblocks[i * kernels](x)
            for j in range(1, kernels):
                total = total + self.resblocks[i * kernels + j](x)
            x = total / kernels
        x = self.conv_post(F.leaky_relu(x)).to(torch.float32)  # default 0.01 slope, as released
        bins = config.n_fft // 2 + 1
        wav = self.istft(torch.exp(x[:, :bins]), torch.sin(x[:, bins:]))[0]
        return wav.clamp(-config.audio_limit, config.audio_limit)

    def check_mel(self, mel: Tensor) -> None:
        """Reject anything but one utterance of in_channels mel bins: [1, C, frames]."""
        if mel.dim() != 3 or mel.shape[0] != 1 or mel.shape[1] != self.config.in_channels:
            raise ValueError(
                f"mel must be [1, {self.config.in_channels}, frames], got {list(mel.shape)}"
            )

    @torch.inference_mode()
    def forward_offline(self, mel: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Mel [1, 80, F] -> float32 samples [F * 256] at sampling_rate.

        All randomness (harmonic start phases, source noise) derives from one seed drawn from
        `generator`, so the same generator state gives the same audio, and a stream started
        from the same state gives the same samples.
        """
        self.check_mel(mel)
        seed = seed_from(generator)
        if mel.shape[2] == 0:
            return torch.zeros(0, device=self.device)
        f0 = self.predict_f0(mel)
        start = torch.zeros(self.m_source.channels, dtype=torch.float64, device=self.device)
        source, _ = self.m_source(f0, 0, start, seed)
        return self.synthesize(mel, source)

    def stream(
        self,
        generator: torch.Generator | None = None,
        lookahead_frames: int | None = None,
        crossfade_frames: int = 0,
    ) -> VocoderStream:
        """A chunked synthesis equal to forward_offline of the concatenated mel.

        With the default lookahead (the receptive field) every sample equals the offline
        output; a smaller lookahead lowers latency and a cross-fade then hides the seams.
        """
        from stepaudio_codec.decoder.hift_stream import VocoderStream

        return VocoderStream(self, seed_from(generator), lookahead_frames, crossfade_frames)

    def forward(self, mel: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return self.forward_offline(mel, generator)
