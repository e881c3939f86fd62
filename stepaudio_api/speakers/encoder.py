"""The speaker encoder: Resemblyzer's pretrained d-vector model (a GE2E-trained three-layer LSTM
over 40 mel bands, 256 numbers a voice), whose weights ship in the ``resemblyzer`` wheel. Its
network is small, so it runs here in NumPy, and the package's own module (which imports
librosa, webrtcvad and torch) is never imported: only its ``pretrained.pt`` is read.

An utterance's embedding is Resemblyzer's: the L2-normed mean of the embeddings of 1.6 s
partial utterances taken 1.3 times a second; the mel spectrogram is librosa's (power, Slaney
filters, a 25 ms Hann window every 10 ms, centred), which the tests check it against."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import numpy as np

from stepaudio_api.speakers.legacy_checkpoint import load_legacy_checkpoint

RATE = 16000
HOP = 160
"""Samples per mel frame (10 ms)."""
N_FFT = 400
N_MELS = 40
PARTIAL_FRAMES = 160
"""A partial utterance: 1.6 s."""
LAYERS = 3
TARGET_DBFS = -30.0


class EncoderUnavailable(RuntimeError):
    pass


def weights_path() -> Path:
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise EncoderUnavailable("the speaker encoder needs the resemblyzer wheel (its weights): "
                                 "pip install --no-deps resemblyzer==0.1.4")  # fmt: skip
    path = Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"
    if not path.is_file():
        raise EncoderUnavailable(f"resemblyzer's weights are missing: {path}")
    return path


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """The Slaney mel scale (librosa's default): linear to 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / (200.0 / 3)
    logstep = np.log(6.4) / 27.0
    return np.where(hz >= 1000.0, 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / logstep,
                    linear)  # fmt: skip


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    logstep = np.log(6.4) / 27.0
    return np.where(mel >= 15.0, 1000.0 * np.exp(logstep * (mel - 15.0)), mel * (200.0 / 3))


@cache
def mel_filters() -> np.ndarray:
    """(N_MELS, 1 + N_FFT // 2) triangular filters, each normalised by its width (Slaney)."""
    fft_freqs = np.linspace(0, RATE / 2, 1 + N_FFT // 2)
    mel_points = np.linspace(_hz_to_mel(np.array(0.0)), _hz_to_mel(np.array(RATE / 2)), N_MELS + 2)
    mel_freqs = _mel_to_hz(mel_points)
    widths = np.diff(mel_freqs)
    ramps = mel_freqs[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_freqs[2:] - mel_freqs[:-2]))[:, None]
    return weights.astype(np.float32)


def mel_spectrogram(samples: np.ndarray) -> np.ndarray:
    """(frames, N_MELS) power mel spectrogram of 16 kHz audio, one frame per 10 ms."""
    padded = np.pad(samples.astype(np.float32, copy=False), N_FFT // 2)
    count = 1 + (len(padded) - N_FFT) // HOP
    frames = np.lib.stride_tricks.as_strided(
        padded, shape=(count, N_FFT), strides=(padded.strides[0] * HOP, padded.strides[0])
    )
    window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)  # periodic, as scipy's "hann"
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
    return (power.astype(np.float32) @ mel_filters().T).astype(np.float32)


def loudness_normalised(samples: np.ndarray) -> np.ndarray:
    """Raised (never lowered) to -30 dBFS, as Resemblyzer prepares what it embeds."""
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if len(samples) else 0.0
    if rms <= 0.0:
        return samples
    change = TARGET_DBFS - 20.0 * np.log10(rms)
    return samples if change < 0 else samples * np.float32(10 ** (change / 20))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class SpeakerEncoder:
    """Embeddings of voices: unit vectors whose dot product is their cosine similarity."""

    def __init__(self, path: Path | None = None) -> None:
        with open(path or weights_path(), "rb") as file:
            state = load_legacy_checkpoint(file)["model_state"]
        self._layers = [
            (state[f"lstm.weight_ih_l{n}"].T.copy(), state[f"lstm.weight_hh_l{n}"].T.copy(),
             state[f"lstm.bias_ih_l{n}"] + state[f"lstm.bias_hh_l{n}"])
            for n in range(LAYERS)
        ]  # fmt: skip
        self._linear = (state["linear.weight"].T.copy(), state["linear.bias"])

    def embed_partials(self, mels: np.ndarray) -> np.ndarray:
        """(batch, frames, N_MELS) mel windows to (batch, 256) unit embeddings: the last hidden
        state of the top LSTM layer, through the linear layer and a ReLU, L2-normed."""
        inputs = mels.astype(np.float32, copy=False)
        batch, steps = inputs.shape[:2]
        for w_ih, w_hh, bias in self._layers:
            hidden = w_hh.shape[0]
            gates_in = inputs @ w_ih + bias  # (batch, steps, 4 hidden)
            h = np.zeros((batch, hidden), np.float32)
            c = np.zeros((batch, hidden), np.float32)
            outputs = np.empty((batch, steps, hidden), np.float32)
            for t in range(steps):
                gates = gates_in[:, t] + h @ w_hh
                i, f, g, o = np.split(gates, 4, axis=1)  # PyTorch's order
                c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
                h = _sigmoid(o) * np.tanh(c)
                outputs[:, t] = h
            inputs = outputs
        weight, bias = self._linear
        raw = np.maximum(inputs[:, -1] @ weight + bias, 0.0)
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        return raw / np.maximum(norms, 1e-12)

    def embed_utterance(self, samples: np.ndarray, rate: float = 1.3,
                        min_coverage: float = 0.75) -> np.ndarray:  # fmt: skip
        """One voice's embedding from 16 kHz audio of it (Resemblyzer's embed_utterance)."""
        samples = loudness_normalised(samples)
        starts = partial_starts(len(samples), rate, min_coverage)
        needed = (starts[-1] + PARTIAL_FRAMES) * HOP
        if needed >= len(samples):
            samples = np.pad(samples, (0, needed - len(samples)))
        mel = mel_spectrogram(samples)
        mels = np.stack([mel[s : s + PARTIAL_FRAMES] for s in starts])
        mean = self.embed_partials(mels).mean(axis=0)
        return mean / max(float(np.linalg.norm(mean)), 1e-12)


def partial_starts(n_samples: int, rate: float = 1.3, min_coverage: float = 0.75) -> list[int]:
    """The first mel frame of each partial utterance (Resemblyzer's compute_partial_slices)."""
    n_frames = int(np.ceil((n_samples + 1) / HOP))
    step = round(RATE / rate / HOP)
    steps = max(1, n_frames - PARTIAL_FRAMES + step + 1)
    starts = list(range(0, steps, step))
    coverage = (n_samples - starts[-1] * HOP) / (PARTIAL_FRAMES * HOP)
    if coverage < min_coverage and len(starts) > 1:
        starts.pop()
    return starts


@cache
def shared_encoder() -> SpeakerEncoder:
    """One encoder for the process (about 6 MB of weights)."""
    return SpeakerEncoder()
