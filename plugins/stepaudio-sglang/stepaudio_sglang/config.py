"""The released ``config.json`` of a Step-1 model (Step-Audio-Chat, Step-Audio-TTS-3B)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ARCHITECTURE = "Step1ForCausalLM"


class Step1FolderError(ValueError):
    """A released folder that is not as it should be; the message names the file."""


@dataclass(frozen=True, slots=True)
class Step1Config:
    hidden_size: int
    intermediate_size: int
    num_attention_heads: int
    num_attention_groups: int
    """KV heads (grouped-query attention)."""
    num_hidden_layers: int
    vocab_size: int = 74752
    rms_norm_eps: float = 1e-5
    max_seq_len: int = 32768
    bos_token_id: int = 1
    eos_token_id: int = 3
    tie_word_embeddings: bool = False
    """Released Step-1 checkpoints carry their own ``lm_head``: never tied."""

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def kv_width(self) -> int:
        return self.num_attention_groups * self.head_dim

    @classmethod
    def from_dict(cls, config: dict[str, Any], source: str = "config.json") -> Step1Config:
        if ARCHITECTURE not in config.get("architectures", []):
            raise Step1FolderError(f"{source}: not a Step-1 config (architectures {ARCHITECTURE})")
        sizes = ("hidden_size", "intermediate_size", "num_attention_heads",
                 "num_attention_groups", "num_hidden_layers", "vocab_size")  # fmt: skip
        missing = [key for key in sizes if not isinstance(config.get(key), int)]
        if missing:
            raise Step1FolderError(f"{source}: missing or non-integer {', '.join(missing)}")
        made = cls(
            **{key: config[key] for key in sizes},
            rms_norm_eps=float(config.get("rms_norm_eps", 1e-5)),
            max_seq_len=int(
                config.get("max_seq_len", config.get("max_position_embeddings", 32768))
            ),
            bos_token_id=int(config.get("bos_token_id", 1)),
            eos_token_id=int(config.get("eos_token_id", 3)),
            tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
        )
        if made.hidden_size % made.num_attention_heads or (
            made.num_attention_heads % made.num_attention_groups
        ):
            raise Step1FolderError(
                f"{source}: {made.num_attention_heads} heads do not divide hidden_size "
                f"{made.hidden_size} or into {made.num_attention_groups} KV groups"
            )
        return made

    @classmethod
    def from_folder(cls, folder: Path | str) -> Step1Config:
        path = Path(folder) / "config.json"
        if not path.is_file():
            raise Step1FolderError(f"{path}: missing file (the Step-1 config.json)")
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise Step1FolderError(f"{path}: unreadable JSON ({error})") from error
        return cls.from_dict(config, source=str(path))
