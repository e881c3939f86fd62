"""The S3 tokenizer v1 (25 Hz) network in torch: a Whisper-style audio encoder (two stride-2
convolutions, a sinusoid-initialised positional table, pre-norm attention blocks) and a
nearest-neighbour codebook on the L2-normalised encoder output.

Written from the computation the released ONNX graph performs, so that on the released weights it
gives the same codes as ``speech_tokenizer_v1.onnx`` under onnxruntime. Padded batches mask the
convolution inputs and the attention keys, so each item's codes equal those of running it alone.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from stepaudio_codec.tokenizer.semantic_layout import SemanticConfig, file_shape, semantic_layout


def conv_output_length(lengths: torch.Tensor) -> torch.Tensor:
    """Frames after one kernel-3, stride-2, padding-1 convolution."""
    return (lengths - 1) // 2 + 1


def codes_for_frames(num_frames: int) -> int:
    """How many codes ``num_frames`` mel frames give (the two convolutions halve twice)."""
    if num_frames <= 0:
        return 0
    return (((num_frames - 1) // 2 + 1) - 1) // 2 + 1


def _valid_mask(lengths: torch.Tensor, size: int) -> torch.Tensor:
    return torch.arange(size, device=lengths.device)[None, :] < lengths[:, None]


class _LayerNorm(nn.LayerNorm):
    """Layer norm computed in float32 whatever the module dtype (as the export does)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight.float()
        bias = self.bias.float()
        out = F.layer_norm(x.float(), self.normalized_shape, weight, bias, self.eps)
        return out.to(x.dtype)


class _SelfAttention(nn.Module):
    def __init__(self, hidden: int, heads: int, device: torch.device | None = None) -> None:
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(hidden, hidden, device=device)
        self.key = nn.Linear(hidden, hidden, bias=False, device=device)
        self.value = nn.Linear(hidden, hidden, device=device)
        self.out = nn.Linear(hidden, hidden, device=device)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None) -> torch.Tensor:
        batch, frames, hidden = x.shape

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, frames, self.heads, hidden // self.heads).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        # Whisper scales q and k by head_dim ** -0.25 each; one head_dim ** -0.5 is the same.
        mixed = F.scaled_dot_product_attention(
            q, k, v, attn_mask=key_mask, scale=(hidden // self.heads) ** -0.5
        )
        return self.out(mixed.transpose(1, 2).reshape(batch, frames, hidden))


class _EncoderBlock(nn.Module):
    def __init__(self, config: SemanticConfig, device: torch.device | None = None) -> None:
        super().__init__()
        eps = config.layer_norm_eps
        self.attn_norm = _LayerNorm(config.hidden, eps=eps, device=device)
        self.attn = _SelfAttention(config.hidden, config.heads, device=device)
        self.mlp_norm = _LayerNorm(config.hidden, eps=eps, device=device)
        self.mlp_in = nn.Linear(config.hidden, config.mlp, device=device)
        self.mlp_out = nn.Linear(config.mlp, config.hidden, device=device)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None) -> torch.Tensor:
        x = x + self.attn(self.attn_norm(x), key_mask)
        return x + self.mlp_out(F.gelu(self.mlp_in(self.mlp_norm(x))))


class SemanticEncoder(nn.Module):
    """Log-mel ``[B, 128, T]`` -> codes ``[B, ceil(T / 4)]`` (0..4095) and their lengths."""

    def __init__(self, config: SemanticConfig, device: torch.device | str | None = None) -> None:
        super().__init__()
        device = torch.device(device) if device is not None else None
        self.config = config
        hidden = config.hidden
        self.conv1 = nn.Conv1d(config.n_mels, hidden, 3, stride=2, padding=1, device=device)
        self.conv2 = nn.Conv1d(hidden, hidden, 3, stride=2, padding=1, device=device)
        self.positional_embedding = nn.Parameter(
            torch.zeros(config.positions, hidden, device=device), requires_grad=False
        )
        self.blocks = nn.ModuleList(_EncoderBlock(config, device) for _ in range(config.layers))
        # Stored as the file stores it, [hidden, codes]; kept in float32 (see to_runtime).
        self.register_buffer(
            "codebook", torch.zeros(hidden, config.codebook_size, device=device), persistent=True
        )

    def to_runtime(self, device: torch.device | str, dtype: torch.dtype) -> SemanticEncoder:
        """Move to ``device`` in ``dtype``, but keep the codebook in float32: the nearest-code
        search decides between close distances and must not lose precision."""
        codebook = self.codebook.float()
        self.to(device=device, dtype=dtype)
        self.codebook = codebook.to(device)
        return self.eval().requires_grad_(False)

    @torch.inference_mode()
    def forward(
        self, mel: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        hidden, lengths = self.encode(mel, lengths)
        return self.nearest_codes(hidden), lengths

    @torch.inference_mode()
    def encode(self, mel: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The encoder output ``[B, T', hidden]`` before quantization, and its lengths."""
        frames = mel.shape[-1]
        padded = bool((lengths < frames).any())
        x = mel.to(self.conv1.weight.dtype)
        if padded:
            x = x * _valid_mask(lengths, frames)[:, None, :].to(x.dtype)
        x = F.gelu(self.conv1(x))
        lengths = conv_output_length(lengths)
        if padded:
            x = x * _valid_mask(lengths, x.shape[-1])[:, None, :].to(x.dtype)
        x = F.gelu(self.conv2(x))
        lengths = conv_output_length(lengths)
        steps = x.shape[-1]
        if steps > self.config.positions:
            raise ValueError(f"{steps} steps exceed the {self.config.positions} positions")
        x = x.transpose(1, 2) + self.positional_embedding[:steps].to(x.dtype)
        key_mask = _valid_mask(lengths, steps)[:, None, None, :] if padded else None
        for block in self.blocks:
            x = block(x, key_mask)
        return x, lengths

    def nearest_codes(self, hidden: torch.Tensor) -> torch.Tensor:
        """Index of the codebook column nearest (Euclidean) to each L2-normalised vector,
        evaluated as the export does: ``-(|x|^2 - 2 x.E + |E|^2)``, first maximum wins."""
        x = F.normalize(hidden.float(), dim=-1, eps=self.config.l2_eps)
        codebook = self.codebook.float()
        distance = x.pow(2).sum(-1, keepdim=True) - (2 * x) @ codebook + codebook.pow(2).sum(0)
        return (-distance).argmax(-1)


def file_tensor_shapes(config: SemanticConfig) -> dict[str, list[int]]:
    """The released file's tensors (layout keys, file layout) as a module of ``config`` needs
    them; built on the meta device, so the released size costs no memory."""
    encoder = SemanticEncoder(config, device="meta")
    own = dict(encoder.named_parameters()) | dict(encoder.named_buffers())
    return {
        key: list(file_shape(tuple(own[place.module_name].shape), place))
        for key, place in semantic_layout(config.layers).items()
    }
