"""The layout of the Step-1 LLM part of ``Step-Audio-Chat/`` and ``Step-Audio-TTS-3B/`` as StepFun
released it, and a check of a folder against it.

A folder holds ``config.json`` (with remote code ``configuration_step1.py`` /
``modeling_step1.py``), bf16 safetensors shards with ``model.safetensors.index.json`` (or a
single ``model.safetensors``), a SentencePiece ``tokenizer.model`` and ``tokenizer_config.json``.
The decoder is Llama-shaped without RoPE or biases (a sqrt-ALiBi bias instead), so five sizes
in the config fix every tensor name and shape (``step1_tensor_shapes``). ``check_step1_folder``
validates a folder from the file headers alone, without reading a weight, so a wrong download is
reported before a server spends minutes loading it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from stepaudio_codec.errors import CheckpointError

CONFIG_FILE = "config.json"
INDEX_FILE = "model.safetensors.index.json"
SINGLE_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.model"

# Ids Step-Audio's code hard-wires (tts.py, stepaudio.py, the TTS decoder's "- 65536").
VOCAB_SIZE = 74752
PAD_ID, BOS_ID, EOT_ID, BOT_ID = 0, 1, 3, 4  # config eos_token_id is <|EOT|> (3)
AUDIO_TOKEN_BASE = 65536  # <audio_0>
NUM_AUDIO_TOKENS = 5120  # vq02 code c is <audio_c>, vq06 code c is <audio_{1024 + c}>
VQ06_OFFSET = 1024

_SIZE_KEYS = (
    "hidden_size",
    "intermediate_size",
    "num_attention_heads",
    "num_attention_groups",
    "num_hidden_layers",
    "vocab_size",
)


def audio_token_id(code: int, codebook: str) -> int:
    """The LLM id of one audio code: ``"vq02"`` codes (0-1023) or ``"vq06"`` codes (0-4095)."""
    offset = {"vq02": 0, "vq06": VQ06_OFFSET}[codebook]
    limit = {"vq02": 1024, "vq06": 4096}[codebook]
    if not 0 <= code < limit:
        raise ValueError(f"{codebook} code {code} out of range 0..{limit - 1}")
    return AUDIO_TOKEN_BASE + offset + code


def step1_tensor_shapes(config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Every tensor of the checkpoint, in ``state_dict`` order, with its shape, computed from the
    config alone (nothing is allocated). K/V projections are ``groups * head_dim`` wide."""
    hidden, inner = config["hidden_size"], config["intermediate_size"]
    head_dim = hidden // config["num_attention_heads"]
    kv_width = config["num_attention_groups"] * head_dim
    shapes: dict[str, tuple[int, ...]] = {
        "model.embed_tokens.weight": (config["vocab_size"], hidden)
    }
    for layer in range(config["num_hidden_layers"]):
        prefix = f"model.layers.{layer}"
        shapes[f"{prefix}.self_attn.q_proj.weight"] = (hidden, hidden)
        shapes[f"{prefix}.self_attn.k_proj.weight"] = (kv_width, hidden)
        shapes[f"{prefix}.self_attn.v_proj.weight"] = (kv_width, hidden)
        shapes[f"{prefix}.self_attn.o_proj.weight"] = (hidden, hidden)
        shapes[f"{prefix}.mlp.gate_proj.weight"] = (inner, hidden)
        shapes[f"{prefix}.mlp.up_proj.weight"] = (inner, hidden)
        shapes[f"{prefix}.mlp.down_proj.weight"] = (hidden, inner)
        shapes[f"{prefix}.input_layernorm.weight"] = (hidden,)
        shapes[f"{prefix}.post_attention_layernorm.weight"] = (hidden,)
    shapes["model.norm.weight"] = (hidden,)
    shapes["lm_head.weight"] = (config["vocab_size"], hidden)
    return shapes


def step1_parameter_count(config: dict[str, Any]) -> int:
    """Number of parameters the config implies."""
    return sum(math.prod(shape) for shape in step1_tensor_shapes(config).values())


def shard_file_names(shards: int) -> list[str]:
    """The file names Hugging Face gives ``shards`` shards (one shard: ``model.safetensors``)."""
    if shards == 1:
        return [SINGLE_FILE]
    return [f"model-{i:05d}-of-{shards:05d}.safetensors" for i in range(1, shards + 1)]


def _read_json(path: Path, expected: str) -> Any:
    if not path.is_file():
        raise CheckpointError(path, "missing file", expected)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(path, f"unreadable JSON ({error})", expected) from error


def _read_config(folder: Path) -> dict[str, Any]:
    path = folder / CONFIG_FILE
    config = _read_json(path, "the Step-1 config.json of Step-Audio-Chat / Step-Audio-TTS-3B")
    if not isinstance(config, dict) or "Step1ForCausalLM" not in config.get("architectures", []):
        raise CheckpointError(path, "not a Step-1 config", 'architectures ["Step1ForCausalLM"]')
    missing = [key for key in _SIZE_KEYS if not isinstance(config.get(key), int)]
    if missing:
        raise CheckpointError(path, f"missing or non-integer keys {missing}", ", ".join(_SIZE_KEYS))
    if config["hidden_size"] % config["num_attention_heads"] or (
        config["num_attention_heads"] % config["num_attention_groups"]
    ):
        raise CheckpointError(path, "heads do not divide the hidden size / into the KV groups")
    if config["vocab_size"] < AUDIO_TOKEN_BASE + NUM_AUDIO_TOKENS:
        raise CheckpointError(
            path,
            f"vocab_size {config['vocab_size']} leaves no room for audio ids",
            f"at least {AUDIO_TOKEN_BASE + NUM_AUDIO_TOKENS} (room for every <audio_N>)",
        )
    return config


def _shard_headers(folder: Path) -> dict[str, dict[str, tuple[int, ...]]]:
    """{shard file: {tensor: shape}} read from the headers only (no weights loaded), after
    checking that every tensor the index maps to a shard is in it."""
    from safetensors import SafetensorError, safe_open

    index_path = folder / INDEX_FILE
    if index_path.exists():
        index = _read_json(index_path, '{"metadata": {...}, "weight_map": {tensor: shard file}}')
        weight_map = index.get("weight_map") if isinstance(index, dict) else None
        if not isinstance(weight_map, dict) or not weight_map:
            raise CheckpointError(
                index_path, "no weight_map", '{"weight_map": {tensor: shard file}}'
            )
        files = sorted(set(weight_map.values()))
    else:
        weight_map, files = None, [SINGLE_FILE]
    headers: dict[str, dict[str, tuple[int, ...]]] = {}
    for file_name in files:
        path = folder / file_name
        if not path.is_file():
            expected = f"the shard {INDEX_FILE} maps tensors to" if weight_map else "the weights"
            raise CheckpointError(path, "missing file", expected)
        try:
            with safe_open(str(path), framework="pt") as shard:
                headers[file_name] = {
                    key: tuple(shard.get_slice(key).get_shape())
                    for key in shard.keys()  # safe_open is not a mapping
                }
        except (SafetensorError, OSError, ValueError) as error:
            raise CheckpointError(
                path, f"unreadable safetensors file ({error})", "a bf16 safetensors shard"
            ) from error
    if weight_map is not None:
        for name, file_name in weight_map.items():
            if name not in headers[file_name]:
                raise CheckpointError(
                    folder / file_name, f"lacks {name}, which {INDEX_FILE} maps to it"
                )
    return headers


def check_step1_folder(folder: Path) -> dict[str, Any]:
    """Validate the LLM part of a released (or tiny) Step-1 folder and return its config: every
    tensor the config implies is present once with the right shape, none is extra, and the
    tokenizer has the released special and audio ids. Raises ``CheckpointError`` naming the file."""
    folder = Path(folder)
    config = _read_config(folder)
    expected = step1_tensor_shapes(config)
    found: dict[str, tuple[str, tuple[int, ...]]] = {}  # tensor -> (shard file, shape)
    for file_name, tensors in _shard_headers(folder).items():
        for name, shape in tensors.items():
            if name in found:
                raise CheckpointError(folder / file_name, f"{name} is stored twice")
            if name not in expected:
                raise CheckpointError(
                    folder / file_name,
                    f"unexpected tensor {name}",
                    "only the Step1ForCausalLM tensors",
                )
            found[name] = (file_name, shape)
    for name, shape in expected.items():  # the first mismatch in checkpoint order
        if name in found and found[name][1] != shape:
            raise CheckpointError(
                folder / found[name][0],
                f"{name} has shape {list(found[name][1])}",
                f"{list(shape)} from {CONFIG_FILE}",
            )
    missing = [name for name in expected if name not in found]
    if missing:
        where = INDEX_FILE if (folder / INDEX_FILE).exists() else SINGLE_FILE
        raise CheckpointError(
            folder / where,
            f"{len(missing)} tensors missing, first {missing[0]}",
            f"all {len(expected)} tensors of {config['num_hidden_layers']} layers",
        )
    check_step1_tokenizer(folder / TOKENIZER_FILE, config["vocab_size"])
    return config


def check_step1_tokenizer(path: Path, vocab_size: int) -> None:
    """The tokenizer loads and has the ids Step-Audio's code hard-wires (``<|BOT|>`` 4,
    ``<|EOT|>`` 3, ``<audio_0>`` 65536), and no more pieces than the LM has embeddings."""
    import sentencepiece

    if not Path(path).is_file():
        raise CheckpointError(path, "missing file", "the SentencePiece model of the Step-1 LLM")
    try:
        processor = sentencepiece.SentencePieceProcessor(model_file=str(path))
    except (RuntimeError, OSError) as error:
        raise CheckpointError(path, f"unreadable SentencePiece model ({error})") from error
    wanted = {
        "<|BOT|>": BOT_ID,
        "<|EOT|>": EOT_ID,
        "<audio_0>": AUDIO_TOKEN_BASE,
        f"<audio_{NUM_AUDIO_TOKENS - 1}>": AUDIO_TOKEN_BASE + NUM_AUDIO_TOKENS - 1,
    }
    wrong = {
        piece: processor.piece_to_id(piece)
        for piece, i in wanted.items()
        if processor.piece_to_id(piece) != i
    }
    if wrong or processor.get_piece_size() > vocab_size:
        raise CheckpointError(
            path,
            f"ids {wrong} of {processor.get_piece_size()} pieces",
            f"{wanted}, at most {vocab_size} pieces",
        )


__all__ = [
    "AUDIO_TOKEN_BASE",
    "BOT_ID",
    "EOT_ID",
    "VOCAB_SIZE",
    "audio_token_id",
    "check_step1_folder",
    "check_step1_tokenizer",
    "shard_file_names",
    "step1_parameter_count",
    "step1_tensor_shapes",
]
