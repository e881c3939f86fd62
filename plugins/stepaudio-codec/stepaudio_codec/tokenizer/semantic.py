"""The vq06 (semantic) tokenizer: 16 kHz audio -> CosyVoice S3 v1 codes, 25 per second, 0..4095.

Loads the released ``speech_tokenizer_v1.onnx`` (in ``Step-Audio-Tokenizer/`` and in
``Step-Audio-TTS-3B/CosyVoice-300M-25Hz/``) by reading its initializers into our torch encoder,
so it runs batched on any torch device instead of through onnxruntime. Like Step-Audio's
``get_vq06_code`` it cuts the audio into 30 s pieces (a piece shorter than 480 samples is
dropped), computes each piece's Whisper log-mel on its own and concatenates the codes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from stepaudio_codec.errors import CheckpointError
from stepaudio_codec.tokenizer.semantic_layout import (
    CODEBOOK_NODE,
    CODEBOOK_NORM_NODE,
    CODEBOOK_SIZE,
    CONV_NODES,
    HEADS_NODE,
    L2_EPS_NODE,
    N_MELS,
    SemanticConfig,
    file_shape,
    semantic_layout,
)
from stepaudio_codec.tokenizer.semantic_model import SemanticEncoder
from stepaudio_codec.tokenizer.whisper_mel import whisper_log_mel

SAMPLE_RATE = 16000
PIECE_SAMPLES = 30 * SAMPLE_RATE  # Step-Audio's split: at most 30 s per encoder call
MIN_PIECE_SAMPLES = 480  # shorter pieces are dropped, as in Step-Audio
EXPECTED = "CosyVoice speech_tokenizer_v1.onnx (S3 tokenizer v1, 25 Hz, 4096 codes)"


def split_pieces(audio: np.ndarray) -> list[np.ndarray]:
    """Step-Audio's 30 s split: consecutive 480000-sample pieces, a short tail (< 480) dropped."""
    pieces = [audio[start : start + PIECE_SAMPLES] for start in range(0, len(audio), PIECE_SAMPLES)]
    return [piece for piece in pieces if len(piece) >= MIN_PIECE_SAMPLES]


def _constant_value(node: onnx.NodeProto) -> np.ndarray | None:
    for attribute in node.attribute:
        if attribute.name == "value":
            return numpy_helper.to_array(attribute.t)
    return None


class _ReleasedGraph:
    """The parts of the released graph the tokenizer reads: initializers and named nodes."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise CheckpointError(path, "file not found", EXPECTED)
        try:
            model = onnx.load(str(path), load_external_data=False)
        except Exception as exc:  # protobuf raises several unrelated types
            raise CheckpointError(path, f"not a readable ONNX model ({exc})", EXPECTED) from None
        self.path = path
        self.initializers = {tensor.name: tensor for tensor in model.graph.initializer}
        self.nodes = {node.name: node for node in model.graph.node}
        if not self.nodes or not self.initializers:
            raise CheckpointError(path, "the ONNX graph has no nodes or no weights", EXPECTED)

    def tensor_name(self, key: str, aliases: Sequence[str] = ()) -> str | None:
        """The initializer a layout key names: itself, or a node's single initializer input;
        failing that, the first alias that resolves."""
        for candidate in (key, *aliases):
            if not candidate.startswith("/"):
                if candidate in self.initializers:
                    return candidate
                continue
            node = self.nodes.get(candidate)
            inputs = [n for n in node.input if n in self.initializers] if node is not None else []
            if len(inputs) == 1:
                return inputs[0]
        return None

    def _codebook_name(self) -> str | None:
        place = semantic_layout(0)[CODEBOOK_NODE]
        return self.tensor_name(CODEBOOK_NODE, place.aliases)

    def block_count(self) -> int:
        indices = {int(m.group(1)) for n in self.nodes if (m := re.match(r"/blocks\.(\d+)/", n))}
        return max(indices) + 1 if indices else 0

    def constant(self, node_name: str) -> np.ndarray | None:
        node = self.nodes.get(node_name)
        return None if node is None or node.op_type != "Constant" else _constant_value(node)

    def read_config(self) -> SemanticConfig:
        conv1 = self.initializers.get("encoders.conv1.weight")
        positions = self.initializers.get("encoders.positional_embedding")
        codebook_name = self._codebook_name()
        heads = self.constant(HEADS_NODE)
        missing = [
            what
            for what, found in (
                ("initializer encoders.conv1.weight", conv1),
                ("initializer encoders.positional_embedding", positions),
                (f"node {CODEBOOK_NODE} with the codebook", codebook_name),
                (f"Constant node {HEADS_NODE} (the head count)", heads),
            )
            if found is None
        ]
        if missing or conv1 is None or positions is None or codebook_name is None:
            raise CheckpointError(self.path, "missing " + ", ".join(missing), EXPECTED)
        hidden, n_mels = int(conv1.dims[0]), int(conv1.dims[1])
        head_count = int(np.asarray(heads).reshape(-1)[0])
        codebook_size = int(self.initializers[codebook_name].dims[-1])
        problems = []
        if n_mels != N_MELS:
            problems.append(f"conv1 takes {n_mels} mel bins, not {N_MELS}")
        if codebook_size != CODEBOOK_SIZE:
            problems.append(f"the codebook has {codebook_size} codes, not {CODEBOOK_SIZE}")
        if head_count <= 0 or hidden % head_count:
            problems.append(f"{HEADS_NODE} holds {head_count}, not a head count for {hidden}")
        problems += self._conv_problems()
        if problems:
            raise CheckpointError(self.path, "; ".join(problems), EXPECTED)
        l2_eps = self.constant(L2_EPS_NODE)
        return SemanticConfig(
            hidden=hidden,
            heads=head_count,
            layers=self.block_count(),
            positions=int(positions.dims[0]),
            codebook_size=codebook_size,
            n_mels=n_mels,
            l2_eps=1e-12 if l2_eps is None else float(np.asarray(l2_eps).reshape(-1)[0]),
        )

    def _conv_problems(self) -> list[str]:
        problems = []
        for name in CONV_NODES:
            node = self.nodes.get(name)
            if node is None:
                problems.append(f"no node {name}")
                continue
            attributes = {a.name: list(a.ints) for a in node.attribute}
            for key, want in (("kernel_shape", [3]), ("strides", [2]), ("pads", [1, 1])):
                if key in attributes and attributes[key] != want:
                    problems.append(f"{name} has {key} {attributes[key]}, expected {want}")
        return problems

    def load_into(self, encoder: SemanticEncoder) -> None:
        """Copy every released tensor into ``encoder``; all problems are reported at once."""
        own = dict(encoder.named_parameters()) | dict(encoder.named_buffers())
        problems: list[str] = []
        values: dict[str, torch.Tensor] = {}
        for key, place in semantic_layout(encoder.config.layers).items():
            name = self.tensor_name(key, place.aliases)
            if name is None:
                what = "node with one weight input" if key.startswith("/") else "initializer"
                problems.append(f"missing {what} {key}")
                continue
            want = file_shape(tuple(own[place.module_name].shape), place)
            got = tuple(int(d) for d in self.initializers[name].dims)
            if got != want:
                problems.append(f"{key} ({name}) has shape {list(got)}, expected {list(want)}")
                continue
            array = numpy_helper.to_array(self.initializers[name]).astype(np.float32)
            if not np.isfinite(array).all():
                problems.append(f"{key} ({name}) holds non-finite values")
                continue
            tensor = torch.from_numpy(array)
            values[place.module_name] = tensor.T.contiguous() if place.transposed else tensor
        norm_source = self.tensor_name(CODEBOOK_NORM_NODE)
        if norm_source is not None and norm_source != self._codebook_name():
            problems.append(f"{CODEBOOK_NORM_NODE} reads {norm_source}, not the codebook")
        if problems:
            shown = "; ".join(problems[:6]) + (
                f"; and {len(problems) - 6} more" * (len(problems) > 6)
            )
            raise CheckpointError(self.path, shown, EXPECTED)
        encoder.load_state_dict(values, strict=True, assign=True)


class SemanticTokenizer:
    """16 kHz mono float32 audio -> int64 vq06 codes (0..4095), about 25 per second."""

    def __init__(self, encoder: SemanticEncoder, device: torch.device, dtype: torch.dtype) -> None:
        self.encoder = encoder
        self.device = device
        self.dtype = dtype

    @classmethod
    def load(
        cls, onnx_path: Path, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
    ) -> SemanticTokenizer:
        graph = _ReleasedGraph(Path(onnx_path))
        encoder = SemanticEncoder(graph.read_config(), device="meta")
        graph.load_into(encoder)
        device = torch.device(device)
        return cls(encoder.to_runtime(device, dtype), device, dtype)

    @property
    def config(self) -> SemanticConfig:
        return self.encoder.config

    def tokenize(self, audio: np.ndarray) -> np.ndarray:
        return self.tokenize_batch([audio], max_batch=1)[0]

    def tokenize_batch(self, clips: Sequence[np.ndarray], max_batch: int = 16) -> list[np.ndarray]:
        """Codes of each clip, its 30 s pieces encoded together in padded batches of up to
        ``max_batch``; each result equals ``tokenize`` of that clip."""
        pieces: list[tuple[int, np.ndarray]] = []
        for owner, clip in enumerate(clips):
            clip = np.asarray(clip, dtype=np.float32)
            if clip.ndim != 1:
                raise ValueError(f"expected mono audio of shape (samples,), got {clip.shape}")
            pieces += [(owner, piece) for piece in split_pieces(clip)]
        codes: list[list[np.ndarray]] = [[] for _ in clips]
        for start in range(0, len(pieces), max_batch):
            group = pieces[start : start + max_batch]
            for (owner, _), piece_codes in zip(
                group, self._encode_pieces([p for _, p in group]), strict=True
            ):
                codes[owner].append(piece_codes)
        return [np.concatenate(c) if c else np.zeros(0, dtype=np.int64) for c in codes]

    def _encode_pieces(self, pieces: list[np.ndarray]) -> list[np.ndarray]:
        mels = [whisper_log_mel(piece, self.device) for piece in pieces]
        lengths = torch.tensor([mel.shape[-1] for mel in mels], device=self.device)
        batch = torch.zeros(len(mels), N_MELS, int(lengths.max()), device=self.device)
        for row, mel in enumerate(mels):
            batch[row, :, : mel.shape[-1]] = mel
        codes, code_lengths = self.encoder(batch.to(self.dtype), lengths)
        codes, code_lengths = codes.cpu().numpy(), code_lengths.cpu().tolist()
        return [codes[row, :n].astype(np.int64) for row, n in enumerate(code_lengths)]

    def stream(self) -> SemanticStream:
        return SemanticStream(self)


class SemanticStream:
    """Incremental tokenization with the same result as ``tokenize`` on the whole input: the
    Whisper mel's loudness floor depends on a whole 30 s piece, so a piece is encoded when it
    completes and the tail when the input is finished."""

    def __init__(self, tokenizer: SemanticTokenizer) -> None:
        self._tokenizer = tokenizer
        self._pending: list[np.ndarray] = []
        self._pending_samples = 0
        self._finished = False

    def feed(self, samples: np.ndarray) -> np.ndarray:
        """Add samples; returns the codes of the 30 s pieces they completed (often none)."""
        if self._finished:
            raise RuntimeError("feed() after finish()")
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        self._pending.append(samples)
        self._pending_samples += len(samples)
        if self._pending_samples < PIECE_SAMPLES:
            return np.zeros(0, dtype=np.int64)
        buffered = np.concatenate(self._pending)
        complete = len(buffered) // PIECE_SAMPLES * PIECE_SAMPLES
        rest = buffered[complete:]
        self._pending, self._pending_samples = [rest], len(rest)
        return self._tokenizer.tokenize(buffered[:complete])

    def finish(self) -> np.ndarray:
        """Codes of the last, partial piece (none when it is shorter than 480 samples)."""
        if self._finished:
            return np.zeros(0, dtype=np.int64)
        self._finished = True
        tail = np.concatenate(self._pending) if self._pending else np.zeros(0, np.float32)
        self._pending, self._pending_samples = [], 0
        return self._tokenizer.tokenize(tail)
