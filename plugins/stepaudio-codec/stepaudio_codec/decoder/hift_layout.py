"""hift.pt as released: a torch.save'd state dict with weight-normalised convs.

Step-Audio builds HiFTGenerator with the legacy `torch.nn.utils.weight_norm` and loads hift.pt
with a strict `load_state_dict`, so every weight-normed conv is stored as `<conv>.weight_g`
(shape [dim0, 1, 1]) and `<conv>.weight_v` (the weight's shape); plain layers keep `weight`.
Newer PyTorch saves the same data as `<conv>.parametrizations.weight.original0/1`; both are
accepted and folded into one plain `weight` = g * v / |v| (norm over all dims but 0).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

from stepaudio_codec.decoder.hift_blocks import WEIGHT_NORMED
from stepaudio_codec.errors import CheckpointError, check_tensor_layout

HIFT_FORMAT = "a torch.save state dict of CosyVoice's HiFTGenerator (weight_g/weight_v convs)"

_PARAMETRIZED = {
    ".parametrizations.weight.original0": ".weight_g",
    ".parametrizations.weight.original1": ".weight_v",
}


def weight_normed_prefixes(model: nn.Module) -> set[str]:
    """Names of the submodules whose weight the release stores as weight_g/weight_v."""
    return {name for name, module in model.named_modules() if isinstance(module, WEIGHT_NORMED)}


def released_layout(model: nn.Module) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape of the released file for this (possibly meta-device) module."""
    normed = weight_normed_prefixes(model)
    layout: dict[str, tuple[int, ...]] = {}
    for name, tensor in model.state_dict().items():
        prefix, _, leaf = name.rpartition(".")
        shape = tuple(tensor.shape)
        if leaf == "weight" and prefix in normed:
            layout[f"{prefix}.weight_g"] = (shape[0],) + (1,) * (len(shape) - 1)
            layout[f"{prefix}.weight_v"] = shape
        else:
            layout[name] = shape
    return layout


def to_released(model: nn.Module) -> dict[str, Tensor]:
    """The module's plain weights in the released naming (g = |w| per dim 0, v = w)."""
    normed = weight_normed_prefixes(model)
    state: dict[str, Tensor] = {}
    for name, tensor in model.state_dict().items():
        prefix, _, leaf = name.rpartition(".")
        tensor = tensor.detach().to("cpu", torch.float32).clone()
        if leaf == "weight" and prefix in normed:
            state[f"{prefix}.weight_g"] = _norm_except_dim0(tensor)
            state[f"{prefix}.weight_v"] = tensor
        else:
            state[name] = tensor
    return state


def read_state_dict(path: Path) -> dict[str, Tensor]:
    """torch.load the file safely (tensors only) or raise CheckpointError naming it."""
    if not path.is_file():
        raise CheckpointError(path, "file not found", HIFT_FORMAT)
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(
            path, f"unreadable ({type(exc).__name__}: {exc})", HIFT_FORMAT
        ) from exc
    if not isinstance(loaded, Mapping) or not all(
        isinstance(k, str) and isinstance(v, Tensor) for k, v in loaded.items()
    ):
        raise CheckpointError(path, "not a state dict of named tensors", HIFT_FORMAT)
    state: dict[str, Tensor] = {}
    for name, tensor in loaded.items():
        for new_suffix, old_suffix in _PARAMETRIZED.items():
            if name.endswith(new_suffix):
                name = name[: -len(new_suffix)] + old_suffix
        state[name] = tensor
    return state


def check_layout(path: Path, state: Mapping[str, Tensor], expected: Mapping[str, tuple]) -> None:
    """Raise CheckpointError listing missing/unexpected names and the first wrong shape."""
    check_tensor_layout(
        path,
        expected,
        {name: tuple(t.shape) for name, t in state.items()},
        f"{len(expected)} tensors of {HIFT_FORMAT}",
    )


def fold_weight_norm(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Released names -> plain module names, with weight = g * v / |v| in float32."""
    folded: dict[str, Tensor] = {}
    for name, tensor in state.items():
        if name.endswith(".weight_v"):
            continue
        if name.endswith(".weight_g"):
            prefix = name[: -len(".weight_g")]
            direction = state[f"{prefix}.weight_v"].to(torch.float32)
            gain = tensor.to(torch.float32)
            folded[f"{prefix}.weight"] = direction * (gain / _norm_except_dim0(direction))
        else:
            folded[name] = tensor
    return folded


def _norm_except_dim0(tensor: Tensor) -> Tensor:
    """L2 norm over every dim but the first, shaped [dim0, 1, 1, ...] like weight_g."""
    norms = tensor.reshape(tensor.shape[0], -1).norm(dim=1)
    return norms.reshape((tensor.shape[0],) + (1,) * (tensor.dim() - 1))
