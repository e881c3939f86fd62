"""Reading a released folder's safetensors weights: one ``model.safetensors`` or shards named
by ``model.safetensors.index.json``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import torch

from stepaudio_sglang.config import Step1FolderError

INDEX_FILE = "model.safetensors.index.json"
SINGLE_FILE = "model.safetensors"


def shard_files(folder: Path) -> list[Path]:
    """The weight files of ``folder``, each checked to exist."""
    index = folder / INDEX_FILE
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise Step1FolderError(f"{index}: no readable weight_map ({error})") from error
        files = [folder / name for name in sorted(set(weight_map.values()))]
    else:
        files = [folder / SINGLE_FILE]
    for path in files:
        if not path.is_file():
            raise Step1FolderError(f"{path}: missing file (safetensors weights)")
    return files


def iter_weights(folder: Path) -> Iterator[tuple[str, torch.Tensor]]:
    """(name, tensor) for every stored tensor, shard by shard, as stored (bf16)."""
    from safetensors import SafetensorError, safe_open

    for path in shard_files(folder):
        try:
            with safe_open(str(path), framework="pt") as shard:
                for name in shard.keys():  # safe_open is not a mapping
                    yield name, shard.get_tensor(name)
        except (SafetensorError, OSError) as error:
            raise Step1FolderError(f"{path}: unreadable safetensors file ({error})") from error


def load_state_dict(folder: Path, dtype: torch.dtype, device: str) -> dict[str, torch.Tensor]:
    return {name: tensor.to(device=device, dtype=dtype) for name, tensor in iter_weights(folder)}
