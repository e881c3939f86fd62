"""Whisper's 128-bin log-mel spectrogram, the input of the vq06 tokenizer
(``speech_tokenizer_v1.onnx``). Step-Audio computes it with
``whisper.log_mel_spectrogram(chunk, n_mels=128)``; this is the same computation in torch, so
neither openai-whisper nor librosa is needed, and it runs on whatever device the tokenizer is on.

The recipe: a centred STFT (reflect padding) with a 400-point periodic Hann window and hop 160,
the last frame dropped (so ``len(audio) // 160`` frames), the power spectrum, Slaney mel filters,
``log10`` clamped at 1e-10, a floor 8 (i.e. 80 dB) below the clip's maximum, then ``(x + 4) / 4``.
The floor depends on the whole clip, which is why the tokenizer encodes complete 30 s pieces.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from stepaudio_codec.mel_filters import mel_filterbank

SAMPLE_RATE = 16000
N_FFT = 400
HOP_LENGTH = 160
N_MELS = 128
LOG_FLOOR = 1e-10
DYNAMIC_RANGE = 8.0  # in log10 units: 80 dB below the clip's loudest bin


@lru_cache(maxsize=8)
def _window_and_filters(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    window = torch.hann_window(N_FFT, device=device)
    filters = torch.from_numpy(np.array(mel_filterbank(SAMPLE_RATE, N_FFT, N_MELS))).to(device)
    return window, filters


def num_mel_frames(num_samples: int) -> int:
    """How many frames the spectrogram of ``num_samples`` samples has."""
    return num_samples // HOP_LENGTH


@torch.inference_mode()
def whisper_log_mel(
    audio: np.ndarray | torch.Tensor, device: torch.device | str | None = None
) -> torch.Tensor:
    """(128, len(audio) // 160) float32 log-mel of one 16 kHz mono clip, on ``device`` (default:
    the audio tensor's device, or the CPU for numpy input). Needs more than 200 samples (the
    reflect padding); the tokenizer never passes fewer than 480."""
    samples = torch.as_tensor(audio, dtype=torch.float32)
    if samples.ndim != 1:
        raise ValueError(f"expected mono audio of shape (samples,), got {tuple(samples.shape)}")
    if samples.shape[0] <= N_FFT // 2:
        raise ValueError(f"need more than {N_FFT // 2} samples for a spectrogram")
    target = torch.device(device) if device is not None else samples.device
    samples = samples.to(target)
    window, filters = _window_and_filters(target)
    spectrum = torch.stft(
        samples, N_FFT, HOP_LENGTH, window=window, center=True, return_complex=True
    )
    power = spectrum[..., :-1].abs() ** 2
    log_spec = torch.clamp(filters @ power, min=LOG_FLOOR).log10()
    log_spec = torch.maximum(log_spec, log_spec.max() - DYNAMIC_RANGE)
    return (log_spec + 4.0) / 4.0
