"""vq02, Step-Audio's linguistic tokens: Paraformer encoder frames -> nearest k-means centroid.

16 kHz audio goes through FunASR's streaming calls the way Step-Audio's `get_vq02_code` runs them
for a whole clip: 240 ms pieces (3840 samples, 4 stacked frames each), the last, shorter piece
marked final. Every encoder output frame (60 ms) is replaced by the index of its nearest centroid
in `linguistic_tokenizer.npy` (Euclidean, first index on ties): 16.7 codes a second, 0..1023.

The stream cuts the audio at the same 3840-sample boundaries whatever pieces it is fed, so any
split gives exactly the codes of the whole clip; `finish()` does what the final call does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from stepaudio_codec.errors import CheckpointError, check_tensor_layout
from stepaudio_codec.folders import PARAFORMER_DIR
from stepaudio_codec.tokenizer.paraformer_frontend import (
    FrontendConfig,
    FrontendStream,
    ParaformerFrontend,
)
from stepaudio_codec.tokenizer.sanm_encoder import (
    EncoderStreamCache,
    SanmChunkEncoder,
    SanmEncoderConfig,
)

CODEBOOK_FILE = "linguistic_tokenizer.npy"
CODEBOOK_SIZE = 1024
SAMPLE_RATE = 16000
# Step-Audio's infer_encoder arguments
CHUNK_SIZE = (0, 4, 5)
ENCODER_LOOK_BACK = 4
# FunASR cuts the audio at chunk_size[1] x 960 samples (60 ms units)
CHUNK_SAMPLES = CHUNK_SIZE[1] * 960

_MODEL_PT_LAYOUT = "torch.save of the Paraformer state dict (encoder.*, predictor.*, decoder.*)"


def _read_config(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CheckpointError(path, "missing", "FunASR's config.yaml (encoder_conf, frontend_conf)")
    try:
        conf = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CheckpointError(path, f"unreadable ({exc})", "a YAML mapping") from exc
    if not isinstance(conf, dict) or not isinstance(conf.get("encoder_conf"), dict):
        raise CheckpointError(path, "no encoder_conf mapping", "FunASR's config.yaml")
    return conf


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise CheckpointError(path, "missing", _MODEL_PT_LAYOUT)
    try:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:  # a legacy (non-zip) pickle cannot be memory-mapped
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        problem = f"unreadable ({type(exc).__name__}: {exc})"
        raise CheckpointError(path, problem, _MODEL_PT_LAYOUT) from exc
    # FunASR's loader also accepts a training checkpoint's {"state_dict": ...} and DDP's prefix
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise CheckpointError(path, f"holds a {type(state).__name__}", _MODEL_PT_LAYOUT)
    return {
        (k[len("module.") :] if k.startswith("module.") else k): v
        for k, v in state.items()
        if isinstance(v, torch.Tensor)
    }


def _check_tensors(
    path: Path, expected: dict[str, torch.Size], found: dict[str, torch.Tensor]
) -> None:
    check_tensor_layout(
        path,
        {name: tuple(shape) for name, shape in expected.items()},
        {name: tuple(t.shape) for name, t in found.items()},
        "the encoder of config.yaml's encoder_conf",
    )


def load_encoder(
    path: Path, config: SanmEncoderConfig, device: str | torch.device, dtype: torch.dtype
) -> SanmChunkEncoder:
    """The encoder.* tensors of model.pt, exactly the module's names and shapes."""
    state = _read_state_dict(path)
    encoder_state = {k[len("encoder.") :]: v for k, v in state.items() if k.startswith("encoder.")}
    encoder = SanmChunkEncoder(config, device="meta", dtype=dtype)
    expected = {name: tensor.shape for name, tensor in encoder.state_dict().items()}
    _check_tensors(
        path,
        {f"encoder.{k}": s for k, s in expected.items()},
        {f"encoder.{k}": v for k, v in encoder_state.items()},
    )
    encoder.load_state_dict(
        {k: v.to(device=device, dtype=dtype) for k, v in encoder_state.items()}, assign=True
    )
    return encoder.eval().requires_grad_(False)


def _load_codebook(path: Path, dim: int) -> np.ndarray:
    expected = f"numpy float array of shape ({CODEBOOK_SIZE}, {dim})"
    if not path.is_file():
        raise CheckpointError(path, "missing", expected)
    try:
        codebook = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise CheckpointError(path, f"unreadable ({exc})", expected) from exc
    if codebook.shape != (CODEBOOK_SIZE, dim) or codebook.dtype.kind != "f":
        raise CheckpointError(path, f"a {codebook.dtype} array of shape {codebook.shape}", expected)
    return codebook.astype(np.float32)


class LinguisticTokenizer:
    """The vq02 tokenizer of a released `Step-Audio-Tokenizer` folder."""

    def __init__(
        self, frontend: ParaformerFrontend, encoder: SanmChunkEncoder, codebook: np.ndarray
    ):
        self.frontend = frontend
        self.encoder = encoder
        self.device = encoder.after_norm.weight.device
        self.codebook = torch.from_numpy(codebook).to(self.device)

    @classmethod
    def load(
        cls, folder: Path, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
    ) -> LinguisticTokenizer:
        folder = Path(folder)
        model_dir = folder / PARAFORMER_DIR
        config_path = model_dir / "config.yaml"
        conf = _read_config(config_path)
        frontend_config = FrontendConfig.from_yaml(conf.get("frontend_conf") or {})
        if frontend_config.sample_rate != SAMPLE_RATE:
            raise CheckpointError(config_path, f"fs {frontend_config.sample_rate}", "fs: 16000")
        try:
            encoder_config = SanmEncoderConfig.from_yaml(
                conf["encoder_conf"], frontend_config.feature_dim
            )
        except (TypeError, ValueError) as exc:
            expected = "SANMEncoderChunkOpt's encoder_conf"
            raise CheckpointError(config_path, str(exc), expected) from exc
        frontend = ParaformerFrontend.load(frontend_config, model_dir / "am.mvn")
        encoder = load_encoder(model_dir / "model.pt", encoder_config, device, dtype)
        codebook = _load_codebook(folder / CODEBOOK_FILE, encoder_config.output_size)
        return cls(frontend, encoder, codebook)

    def quantize(self, frames: torch.Tensor) -> np.ndarray:
        """(n, dim) encoder frames -> (n,) int64 nearest-centroid indices."""
        if frames.shape[0] == 0:
            return np.zeros(0, dtype=np.int64)
        distances = torch.cdist(frames.to(self.device, torch.float32), self.codebook)
        return distances.argmin(dim=1).cpu().numpy().astype(np.int64)

    def stream(self) -> LinguisticStream:
        return LinguisticStream(self)

    def tokenize(self, audio: np.ndarray) -> np.ndarray:
        """16 kHz mono float32 in [-1, 1] -> int64 codes, Step-Audio's whole-clip call."""
        stream = self.stream()
        return np.concatenate([stream.feed(audio), stream.finish()])


class LinguisticStream:
    """One clip fed piece by piece; `feed` returns the codes each completed 240 ms adds."""

    def __init__(self, tokenizer: LinguisticTokenizer):
        self.tokenizer = tokenizer
        self._frontend: FrontendStream = tokenizer.frontend.stream()
        self._cache: EncoderStreamCache = tokenizer.encoder.new_cache(CHUNK_SIZE, ENCODER_LOOK_BACK)
        self._pending = np.zeros(0, dtype=np.float32)
        self._finished = False

    def _encode(self, feats: np.ndarray) -> np.ndarray:
        if feats.shape[0] == 0:
            return np.zeros(0, dtype=np.int64)
        with torch.inference_mode():
            frames = self.tokenizer.encoder.forward_chunk(
                torch.from_numpy(feats)[None], self._cache
            )
        return self.tokenizer.quantize(frames[0])

    def feed(self, samples: np.ndarray) -> np.ndarray:
        if self._finished:
            raise RuntimeError("the stream is finished")
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError(f"mono samples expected, got shape {samples.shape}")
        self._pending = np.concatenate([self._pending, samples])
        codes = []
        while self._pending.size >= CHUNK_SAMPLES:
            chunk, self._pending = self._pending[:CHUNK_SAMPLES], self._pending[CHUNK_SAMPLES:]
            codes.append(self._encode(self._frontend.accept(chunk)))
        return np.concatenate(codes) if codes else np.zeros(0, dtype=np.int64)

    def finish(self) -> np.ndarray:
        """The final call on the samples after the last 3840-sample boundary (none: no call)."""
        if self._finished:
            raise RuntimeError("the stream is finished")
        self._finished = True
        tail, self._pending = self._pending, np.zeros(0, dtype=np.float32)
        if tail.size == 0:
            return np.zeros(0, dtype=np.int64)
        return self._encode(self._frontend.accept(tail, is_final=True))
