"""Tiny (and, on a GPU machine, real-size) random Step-1 LLM folders in the released layout of
``Step-Audio-Chat/`` and ``Step-Audio-TTS-3B/`` (see ``stepaudio_codec.step1_folder``): the
config, seeded bf16 shards with their index, and our synthetic tokenizer. The remote code
(``configuration_step1.py`` / ``modeling_step1.py``) is StepFun's and is never written.

Tiny folders keep the real vocabulary (74752, so the ``<audio_N>`` ids fit) and each kind's real
head dim (64 for TTS-3B, 128 for Chat: the attention kernels a server picks depend on it), and
shrink everything else. Shards are written tensor by tensor, so the 265 GB Chat checkpoint
never needs to be in memory.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import torch

from stepaudio_codec.step1_folder import (
    CONFIG_FILE,
    EOT_ID,
    INDEX_FILE,
    TOKENIZER_FILE,
    VOCAB_SIZE,
    check_step1_folder,
    shard_file_names,
    step1_parameter_count,
    step1_tensor_shapes,
)
from stepaudio_codec.tiny.step1_tokenizer import (
    step1_tokenizer_config,
    write_step1_tokenizer_model,
)

Step1Kind = Literal["chat", "tts-3b"]

FOLDER_NAMES: dict[str, str] = {"chat": "Step-Audio-Chat", "tts-3b": "Step-Audio-TTS-3B"}

# The five sizes of each released model, from the released configs (TTS-3B's also match public
# ports and its 7 GB of weights; Chat's give the 132B parameters of its 265 GB download).
STEP1_SIZES: dict[str, dict[str, int]] = {
    "chat": {
        "hidden_size": 12288,
        "intermediate_size": 31232,
        "num_attention_heads": 96,
        "num_attention_groups": 8,
        "num_hidden_layers": 88,
    },
    "tts-3b": {
        "hidden_size": 3072,
        "intermediate_size": 8192,
        "num_attention_heads": 48,
        "num_attention_groups": 4,
        "num_hidden_layers": 32,
    },
}

# Tiny stand-ins: two layers, grouped-query attention kept (2 heads per KV group for TTS-3B,
# 2 heads on 1 group for Chat), the real head dim kept (64 / 128).
STEP1_TINY_SIZES: dict[str, dict[str, int]] = {
    "chat": {
        "hidden_size": 256,
        "intermediate_size": 512,
        "num_attention_heads": 2,
        "num_attention_groups": 1,
        "num_hidden_layers": 2,
    },
    "tts-3b": {
        "hidden_size": 256,
        "intermediate_size": 512,
        "num_attention_heads": 4,
        "num_attention_groups": 2,
        "num_hidden_layers": 2,
    },
}

BYTES_PER_PARAM = 2  # bf16, as released
_CHUNK_ELEMENTS = 1 << 26  # random weights are drawn 64 Mi values at a time: bounded memory


def step1_config(kind: Step1Kind, real: bool = False) -> dict[str, Any]:
    """``config.json`` as released for ``kind`` (real sizes) or its tiny stand-in. The keys are
    those ``configuration_step1.Step1Config`` takes and saves; the untied ``lm_head`` is stated
    explicitly because a loader that defaults to tying (vLLM's Step1 does) would tie it."""
    if kind not in STEP1_SIZES:
        raise ValueError(f"unknown Step-1 kind {kind!r}; expected one of {sorted(STEP1_SIZES)}")
    sizes = (STEP1_SIZES if real else STEP1_TINY_SIZES)[kind]
    return {
        "architectures": ["Step1ForCausalLM"],
        "auto_map": {
            "AutoConfig": "configuration_step1.Step1Config",
            "AutoModelForCausalLM": "modeling_step1.Step1ForCausalLM",
        },
        "model_type": "step1",
        **sizes,
        "max_seq_len": 32768,
        "vocab_size": VOCAB_SIZE,
        "rms_norm_eps": 1e-5,
        "bos_token_id": 1,
        "eos_token_id": EOT_ID,
        "pad_token_id": 0,
        "tie_word_embeddings": False,
        "use_cache": True,
        "torch_dtype": "bfloat16",
    }


def tiny_step1_config(kind: Step1Kind) -> dict[str, Any]:
    """The tiny ``config.json`` of ``kind``."""
    return step1_config(kind, real=False)


MANIFEST_FILES: dict[str, str] = {"chat": "step1_chat.json", "tts-3b": "step1_tts3b.json"}
_MANIFEST_SOURCE = (
    "Step-1 LLM of {folder}/ at the released sizes ({sizes}). Certain: tensor names and layout "
    "from StepFun's modeling_step1.py (model.embed_tokens, "
    "model.layers.N.self_attn.{{q,k,v,o}}_proj, mlp.{{gate,up,down}}_proj, "
    "input/post_attention_layernorm, model.norm, a separate lm_head; no biases; K/V width = "
    "num_attention_groups * hidden_size / num_attention_heads), vocab 74752, bf16. Shapes "
    "computed by step1_tensor_shapes from STEP1_SIZES. Sizes: the released configs' values; "
    "TTS-3B's equal vLLM's Step1Config defaults and the 3.53B parameters of its 7.06 GB of bf16 "
    "shards; Chat's are as documented for its config (not re-verified against the file) and "
    "give 131.9B parameters, matching the 265 GB download."
)


def step1_manifest(kind: Step1Kind) -> dict[str, Any]:
    """The real-size manifest of ``kind`` (what ``manifests/step1_*.json`` holds)."""
    sizes = ", ".join(f"{key} {value}" for key, value in STEP1_SIZES[kind].items())
    shapes = step1_tensor_shapes(step1_config(kind, real=True))
    return {
        "_source": _MANIFEST_SOURCE.format(folder=FOLDER_NAMES[kind], sizes=sizes),
        "tensors": {name: list(shape) for name, shape in shapes.items()},
    }


def manifest_json(manifest: dict[str, Any]) -> str:
    """The manifest as written to disk: one tensor a line."""
    lines = [
        f"  {json.dumps(name)}: {json.dumps(shape)}" for name, shape in manifest["tensors"].items()
    ]
    source = json.dumps(manifest["_source"], ensure_ascii=False)
    return '{\n "_source": ' + source + ',\n "tensors": {\n' + ",\n".join(lines) + "\n }\n}\n"


def _split_into_shards(shapes: dict[str, tuple[int, ...]], shards: int) -> list[list[str]]:
    """Consecutive tensors, cut where the running size passes each equal share of the total."""
    names = list(shapes)
    if not 1 <= shards <= len(names):
        raise ValueError(f"shards must be between 1 and {len(names)}, got {shards}")
    sizes = [math.prod(shapes[n]) for n in names]
    total, groups, running = sum(sizes), [[] for _ in range(shards)], 0
    for position, (name, size) in enumerate(zip(names, sizes, strict=True)):
        share = min(int(running * shards / total), shards - 1)
        share = max(share, shards - (len(names) - position))  # leave one tensor per later shard
        groups[share].append(name)
        running += size
    return groups


def _random_weight_bytes(
    name: str, shape: tuple[int, ...], generator: torch.Generator
) -> Iterator[bytes]:
    """bf16 bytes of one random tensor, row block by row block. Norm weights sit near 1 (as
    trained ones do), matrices are N(0, 0.02) (the released ``initializer_range``)."""
    rows, columns = (1, shape[0]) if len(shape) == 1 else shape
    block = max(1, _CHUNK_ELEMENTS // columns)
    for start in range(0, rows, block):
        values = torch.randn(min(block, rows - start), columns, generator=generator)
        values = (
            1.0 + 0.1 * values
            if name.endswith("layernorm.weight") or name == "model.norm.weight"
            else 0.02 * values
        )
        yield values.to(torch.bfloat16).view(torch.int16).numpy().tobytes()


def _write_streamed_shard(
    path: Path, shapes: dict[str, tuple[int, ...]], names: list[str], seed: int
) -> int:
    """One safetensors file written tensor by tensor (the header first, from the shapes), so a
    130B-parameter checkpoint never has to be in memory. Returns the bytes of tensor data."""
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name in names:
        size = math.prod(shapes[name]) * BYTES_PER_PARAM
        header[name] = {
            "dtype": "BF16",
            "shape": list(shapes[name]),
            "data_offsets": [offset, offset + size],
        }
        offset += size
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)  # the format aligns the data to 8 bytes
    order = list(shapes)
    with path.open("wb") as out:
        out.write(struct.pack("<Q", len(encoded)) + encoded)
        for name in names:
            generator = torch.Generator().manual_seed(seed * 100_003 + order.index(name))
            for chunk in _random_weight_bytes(name, shapes[name], generator):
                out.write(chunk)
    return offset


def write_tiny_step1(
    folder: Path, kind: Step1Kind, seed: int = 0, real: bool = False, shards: int = 2
) -> None:
    """Write the LLM part of ``Step-Audio-Chat/`` (``kind="chat"``) or ``Step-Audio-TTS-3B/``
    into ``folder``: config, seeded random bf16 shards + index, tokenizer files. ``real=True``
    writes the real sizes (TTS-3B ~7 GB, Chat ~265 GB; GPU machines only, never in tests); the
    tokenizer is our synthetic one either way."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in [*folder.glob("model*.safetensors"), folder / INDEX_FILE]:
        stale.unlink(missing_ok=True)  # an earlier write with another shard count
    config = step1_config(kind, real=real)
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    shapes = step1_tensor_shapes(config)
    weight_map: dict[str, str] = {}
    total = 0
    for file_name, names in zip(
        shard_file_names(shards), _split_into_shards(shapes, shards), strict=True
    ):
        total += _write_streamed_shard(folder / file_name, shapes, names, seed)
        weight_map.update(dict.fromkeys(names, file_name))
    if shards > 1:
        index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
        (folder / INDEX_FILE).write_text(json.dumps(index, indent=2) + "\n")
    write_step1_tokenizer_model(folder / TOKENIZER_FILE)
    tokenizer_config = step1_tokenizer_config(chat=kind == "chat")
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2) + "\n")


__all__ = [
    "FOLDER_NAMES",
    "MANIFEST_FILES",
    "STEP1_SIZES",
    "STEP1_TINY_SIZES",
    "check_step1_folder",
    "manifest_json",
    "shard_file_names",
    "step1_config",
    "step1_manifest",
    "step1_parameter_count",
    "step1_tensor_shapes",
    "tiny_step1_config",
    "write_tiny_step1",
]
