"""The Paraformer front end: Kaldi fbank, low frame rate stacking (LFR) and global CMVN.

It reproduces what FunASR's streaming front end (`WavFrontendOnline`) hands the encoder, call by
call: 80 log-mel bins every 10 ms (25 ms Hamming windows, snip_edges, samples scaled to 16-bit
range, no dither), then 7 consecutive frames stacked every 6 (60 ms, 560 values; the clip's first
frame is repeated three times in front), then `(x + shift) * scale` from `am.mvn`.

Only a call marked final pads the last, incomplete stacks with the clip's last frame. FunASR does
that only when the final call itself produced fbank frames and its splice buffer then holds at
least 7 frames (or, with no new frames, when the buffer already holds more than 3): otherwise the
tail is silently dropped. Step-Audio's codes depend on that quirk, so it is kept here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kaldi_native_fbank as knf
import numpy as np

from stepaudio_codec.errors import CheckpointError

# FunASR feeds Kaldi's fbank samples in 16-bit range
_INT16_SCALE = float(1 << 15)


@dataclass(frozen=True, slots=True)
class FrontendConfig:
    """`frontend_conf` of the released config.yaml (the fields the features depend on)."""

    sample_rate: int = 16000
    n_mels: int = 80
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    window: str = "hamming"
    lfr_m: int = 7
    lfr_n: int = 6

    @classmethod
    def from_yaml(cls, conf: dict[str, Any]) -> FrontendConfig:
        return cls(
            sample_rate=int(conf.get("fs", 16000)),
            n_mels=int(conf.get("n_mels", 80)),
            frame_length_ms=float(conf.get("frame_length", 25)),
            frame_shift_ms=float(conf.get("frame_shift", 10)),
            window=str(conf.get("window", "hamming")),
            lfr_m=int(conf.get("lfr_m", 1)),
            lfr_n=int(conf.get("lfr_n", 1)),
        )

    @property
    def feature_dim(self) -> int:
        """Values per stacked frame: the encoder's input size (560 as released)."""
        return self.n_mels * self.lfr_m

    @property
    def left_context(self) -> int:
        """Copies of the first fbank frame put in front of the clip ((lfr_m - 1) // 2)."""
        return (self.lfr_m - 1) // 2


def read_am_mvn(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The `<AddShift>` and `<Rescale>` vectors of a Kaldi nnet1 text file (FunASR's am.mvn)."""
    expected = "Kaldi nnet text with '<AddShift> D D' and '<Rescale> D D' rows '[ v1 ... vD ]'"
    try:
        tokens = path.read_text(encoding="utf-8").split()
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(path, f"cannot read the CMVN file ({exc})", expected) from exc

    def vector_after(tag: str) -> np.ndarray:
        if tag not in tokens:
            raise CheckpointError(path, f"no {tag} component", expected)
        start = tokens.index(tag)
        try:
            open_at = tokens.index("[", start)
            close_at = tokens.index("]", open_at)
            return np.asarray(tokens[open_at + 1 : close_at], dtype=np.float32)
        except ValueError as exc:
            raise CheckpointError(path, f"the {tag} vector is malformed ({exc})", expected) from exc

    shift, scale = vector_after("<AddShift>"), vector_after("<Rescale>")
    if shift.shape != scale.shape or shift.size == 0:
        raise CheckpointError(
            path, f"<AddShift> has {shift.size} values, <Rescale> {scale.size}", expected
        )
    return shift, scale


class ParaformerFrontend:
    """Configuration and CMVN of the front end; `stream()` opens one clip's incremental state."""

    def __init__(self, config: FrontendConfig, cmvn_shift: np.ndarray, cmvn_scale: np.ndarray):
        if cmvn_shift.shape != (config.feature_dim,) or cmvn_scale.shape != (config.feature_dim,):
            raise ValueError(
                f"CMVN vectors of shape {cmvn_shift.shape}/{cmvn_scale.shape}, "
                f"expected ({config.feature_dim},)"
            )
        self.config = config
        self.cmvn_shift = cmvn_shift.astype(np.float32)
        self.cmvn_scale = cmvn_scale.astype(np.float32)

    @classmethod
    def load(cls, config: FrontendConfig, am_mvn: Path) -> ParaformerFrontend:
        shift, scale = read_am_mvn(am_mvn)
        if shift.size != config.feature_dim:
            raise CheckpointError(
                am_mvn,
                f"CMVN vectors of {shift.size} values",
                f"{config.feature_dim} = n_mels {config.n_mels} x lfr_m {config.lfr_m}",
            )
        return cls(config, shift, scale)

    def fbank_options(self) -> knf.FbankOptions:
        opts = knf.FbankOptions()
        opts.frame_opts.samp_freq = float(self.config.sample_rate)
        opts.frame_opts.frame_length_ms = self.config.frame_length_ms
        opts.frame_opts.frame_shift_ms = self.config.frame_shift_ms
        opts.frame_opts.window_type = self.config.window
        opts.frame_opts.dither = 0.0  # inference: deterministic features
        opts.frame_opts.snip_edges = True
        opts.mel_opts.num_bins = self.config.n_mels
        opts.energy_floor = 0.0
        return opts

    def stream(self) -> FrontendStream:
        return FrontendStream(self)

    def apply_cmvn(self, stacked: np.ndarray) -> np.ndarray:
        return ((stacked + self.cmvn_shift) * self.cmvn_scale).astype(np.float32)


class FrontendStream:
    """One clip's front-end state: `accept` takes the samples of one FunASR call.

    Non-final calls may split the audio anywhere (the result only depends on the samples); the
    final call's own frame count decides the tail, as in FunASR (see the module docstring).
    """

    def __init__(self, frontend: ParaformerFrontend):
        self.frontend = frontend
        self._fbank = knf.OnlineFbank(frontend.fbank_options())
        self._frames_taken = 0
        # fbank frames from the start of the next stacked frame on (with the left padding)
        self._splice: list[np.ndarray] = []
        self._started = False
        self.finished = False

    def _new_fbank_frames(self, samples: np.ndarray) -> list[np.ndarray]:
        if samples.size:
            scaled = np.ascontiguousarray(samples, dtype=np.float32) * _INT16_SCALE
            self._fbank.accept_waveform(float(self.frontend.config.sample_rate), scaled)
        ready = self._fbank.num_frames_ready
        # copies: a frame's array is a view that pop() frees
        frames = [np.array(self._fbank.get_frame(i)) for i in range(self._frames_taken, ready)]
        if ready > self._frames_taken:
            self._fbank.pop(ready - self._frames_taken)
        self._frames_taken = ready
        return frames

    def _stack(self, count: int, pad_to_end: bool) -> np.ndarray:
        """Take `count` stacked frames off the splice buffer (padding with its last frame)."""
        m, n = self.frontend.config.lfr_m, self.frontend.config.lfr_n
        rows = []
        for i in range(count):
            window = self._splice[i * n : i * n + m]
            if pad_to_end and len(window) < m:
                window = window + [self._splice[-1]] * (m - len(window))
            rows.append(np.concatenate(window))
        if pad_to_end:
            self._splice = []
        else:
            del self._splice[: count * n]
        if not rows:
            return np.zeros((0, self.frontend.config.feature_dim), dtype=np.float32)
        return self.frontend.apply_cmvn(np.stack(rows))

    def accept(self, samples: np.ndarray, is_final: bool = False) -> np.ndarray:
        """Stacked, normalised frames (n, feature_dim) that this call completes."""
        if self.finished:
            raise RuntimeError("the front-end stream is finished")
        cfg = self.frontend.config
        new = self._new_fbank_frames(samples)
        if new and not self._started:
            self._splice = [new[0]] * cfg.left_context
            self._started = True
        self._splice.extend(new)
        self.finished = is_final
        available = len(self._splice)
        if not is_final:
            complete = (available - cfg.lfr_m) // cfg.lfr_n + 1 if available >= cfg.lfr_m else 0
            return self._stack(complete, pad_to_end=False)
        # FunASR's final call: it flushes only when it got frames and then holds a whole window,
        # or got none and still holds more than the left context.
        if (new and available >= cfg.lfr_m) or (not new and available > cfg.left_context):
            count = math.ceil((available - cfg.left_context) / cfg.lfr_n)
            return self._stack(count, pad_to_end=True)
        return self._stack(0, pad_to_end=True)
