"""Step-1 in plain PyTorch, loading a released folder: the ground truth of the tests.

Pre-norm decoder layers: RMSNorm (variance in fp32), grouped-query attention with no rotary
embedding but a sqrt-ALiBi bias (``stepaudio_sglang.alibi``), scale 1/sqrt(head_dim), SwiGLU
MLP ``down(silu(gate(x)) * up(x))``, no biases, a final RMSNorm and an untied ``lm_head``.
Written for clarity, not speed: eager attention with an explicit bias, one sequence cache.

``python -m stepaudio_sglang.reference DIR --ids 1,4,... --json`` prints the last position's
logits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from stepaudio_sglang.alibi import alibi_slopes, sqrt_alibi_bias
from stepaudio_sglang.config import Step1Config, Step1FolderError
from stepaudio_sglang.weights import load_state_dict


class RMSNorm(nn.Module):
    def __init__(self, size: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        variance = x.float().pow(2).mean(-1, keepdim=True)
        normed = x.float() * torch.rsqrt(variance + self.eps)
        return normed.to(x.dtype) * self.weight


@dataclass
class LayerCache:
    keys: torch.Tensor | None = None  # [B, KV, T, D]
    values: torch.Tensor | None = None


@dataclass
class KVCache:
    """Keys and values of every layer for the sequence(s) seen so far."""

    layers: list[LayerCache] = field(default_factory=list)

    @property
    def length(self) -> int:
        first = self.layers[0].keys if self.layers else None
        return 0 if first is None else first.shape[2]


def sqrt_alibi_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    slopes: torch.Tensor,
    query_start: int,
) -> torch.Tensor:
    """``q`` [B, H, Tq, D] at positions ``query_start..``; ``k``/``v`` [B, KV, Tk, D] at
    0..Tk-1; H a multiple of KV (head h reads KV head h // (H / KV)). fp32 math."""
    heads, kv_heads = q.shape[1], k.shape[1]
    k = k.repeat_interleave(heads // kv_heads, dim=1).float()
    v = v.repeat_interleave(heads // kv_heads, dim=1).float()
    scores = q.float() @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
    positions = torch.arange(k.shape[2], device=q.device)
    bias = sqrt_alibi_bias(slopes.to(q.device), positions[query_start:], positions)
    weights = torch.softmax(scores + bias[None, :, : q.shape[2]], dim=-1)
    return (weights @ v).to(q.dtype)


class Attention(nn.Module):
    def __init__(self, config: Step1Config) -> None:
        super().__init__()
        hidden, width = config.hidden_size, config.kv_width
        self.heads, self.kv_heads = config.num_attention_heads, config.num_attention_groups
        self.head_dim = config.head_dim
        self.q_proj = nn.Linear(hidden, hidden, bias=False)
        self.k_proj = nn.Linear(hidden, width, bias=False)
        self.v_proj = nn.Linear(hidden, width, bias=False)
        self.o_proj = nn.Linear(hidden, hidden, bias=False)
        self.register_buffer("slopes", alibi_slopes(self.heads), persistent=False)

    def forward(self, x: torch.Tensor, cache: LayerCache | None) -> torch.Tensor:
        batch, length, _ = x.shape

        def split(t: torch.Tensor, heads: int) -> torch.Tensor:
            return t.view(batch, length, heads, self.head_dim).transpose(1, 2)

        q = split(self.q_proj(x), self.heads)
        k, v = split(self.k_proj(x), self.kv_heads), split(self.v_proj(x), self.kv_heads)
        start = 0
        if cache is not None:
            if cache.keys is not None and cache.values is not None:
                start = cache.keys.shape[2]
                k, v = torch.cat([cache.keys, k], 2), torch.cat([cache.values, v], 2)
            cache.keys, cache.values = k, v
        out = sqrt_alibi_attention(q, k, v, self.slopes, start)
        return self.o_proj(out.transpose(1, 2).reshape(batch, length, -1))


class MLP(nn.Module):
    def __init__(self, config: Step1Config) -> None:
        super().__init__()
        hidden, inner = config.hidden_size, config.intermediate_size
        self.gate_proj = nn.Linear(hidden, inner, bias=False)
        self.up_proj = nn.Linear(hidden, inner, bias=False)
        self.down_proj = nn.Linear(inner, hidden, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, config: Step1Config) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.self_attn = Attention(config)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, cache: LayerCache | None) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), cache)
        return x + self.mlp(self.post_attention_layernorm(x))


class Step1Body(nn.Module):
    def __init__(self, config: Step1Config) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(config) for _ in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)


class Step1Model(nn.Module):
    """``Step1ForCausalLM``: tensor names as released (``model.*``, ``lm_head``)."""

    def __init__(self, config: Step1Config) -> None:
        super().__init__()
        self.config = config
        self.model = Step1Body(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)

    @classmethod
    def from_folder(
        cls, folder: Path | str, device: str = "cpu", dtype: torch.dtype = torch.float32
    ) -> Step1Model:
        """Load ``config.json`` and the safetensors weights (sharded with an index, or one
        file); every released tensor must be there with its shape, and nothing else."""
        config = Step1Config.from_folder(folder)
        with torch.device("meta"):
            model = cls(config)
        state = load_state_dict(Path(folder), dtype=dtype, device=device)
        expected = {name: tuple(p.shape) for name, p in model.state_dict().items()}
        missing = sorted(set(expected) - set(state))
        unexpected = sorted(set(state) - set(expected))
        if missing or unexpected:
            raise Step1FolderError(
                f"{folder}: weights do not match config.json "
                f"(missing {missing[:3]}, unexpected {unexpected[:3]})"
            )
        for name, shape in expected.items():
            if tuple(state[name].shape) != shape:
                raise Step1FolderError(
                    f"{folder}: {name} has shape {list(state[name].shape)}, "
                    f"config.json implies {list(shape)}"
                )
        model.load_state_dict(state, assign=True)
        for layer in model.model.layers:  # non-persistent buffers stay on meta after assign
            layer.self_attn.slopes = alibi_slopes(config.num_attention_heads).to(device)
        return model.eval()

    def new_cache(self) -> KVCache:
        return KVCache([LayerCache() for _ in self.model.layers])

    @torch.inference_mode()
    def forward(self, input_ids: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Logits (float32, ``[B, T, vocab]``) for ``input_ids`` (``[T]`` or ``[B, T]``); with
        a cache they continue its sequence, and their keys and values are appended to it."""
        if input_ids.dim() == 1:
            input_ids = input_ids[None]
        x = self.model.embed_tokens(input_ids.to(self.lm_head.weight.device))
        for index, layer in enumerate(self.model.layers):
            x = layer(x, None if cache is None else cache.layers[index])
        return self.lm_head(self.model.norm(x)).float()


class Step1Tokenizer:
    """The folder's SentencePiece ``tokenizer.model``: ids without BOS, ``<audio_N>`` kept."""

    def __init__(self, path: Path) -> None:
        import sentencepiece

        if not path.is_file():
            raise Step1FolderError(f"{path}: missing file (the SentencePiece tokenizer.model)")
        self.processor = sentencepiece.SentencePieceProcessor(model_file=str(path))

    @classmethod
    def from_folder(cls, folder: Path | str) -> Step1Tokenizer:
        return cls(Path(folder) / "tokenizer.model")

    def encode(self, text: str) -> list[int]:
        return list(self.processor.encode(text))

    def decode(self, ids: list[int]) -> str:
        return str(self.processor.decode(list(ids)))


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m stepaudio_sglang.reference",
        description="Step-1 in plain PyTorch: the last position's logits for a prompt.",
    )
    parser.add_argument("folder", type=Path, help="a Step-Audio-Chat or Step-Audio-TTS-3B folder")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--ids", help="comma-separated token ids, e.g. 1,4,...")
    what.add_argument("--text", help="a prompt, encoded with the folder's tokenizer.model")
    parser.add_argument("--json", action="store_true", help="print JSON (default: top 10)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    try:
        if args.ids is not None:
            ids = [int(piece) for piece in args.ids.split(",") if piece.strip()]
        else:
            ids = Step1Tokenizer.from_folder(args.folder).encode(args.text)
        model = Step1Model.from_folder(args.folder, args.device, getattr(torch, args.dtype))
    except (Step1FolderError, ValueError) as error:
        parser.exit(2, f"error: {error}\n")
    if not ids or max(ids) >= model.config.vocab_size or min(ids) < 0:
        parser.exit(2, f"error: ids must be 0..{model.config.vocab_size - 1}, at least one\n")
    logits = model(torch.tensor(ids))[0, -1]
    if args.json:
        print(json.dumps({"ids": ids, "argmax": int(logits.argmax()), "logits": logits.tolist()}))
    else:
        top = torch.topk(logits, 10)
        for value, index in zip(top.values.tolist(), top.indices.tolist(), strict=True):
            print(f"{index}\t{value:.6f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
