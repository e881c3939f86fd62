"""The error a released model folder raises when it is not as released."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from stepaudio_api.engines.base import EngineNotConfigured


class CheckpointError(EngineNotConfigured):
    """A file of a model folder is missing, unreadable or of the wrong shape. The message names
    the file and the layout expected; the server runs on without the engine."""

    def __init__(self, path: Path | str, problem: str, expected: str = "") -> None:
        self.path = Path(path)
        message = f"{self.path}: {problem}"
        if expected:
            message += f" (expected: {expected})"
        super().__init__(message)


def check_tensor_layout(
    path: Path | str,
    expected: Mapping[str, Sequence[int]],
    found: Mapping[str, Sequence[int]],
    layout: str,
) -> None:
    """Compare a checkpoint's tensor shapes with the module's: one CheckpointError naming the
    missing and unexpected tensors (a count and the first few) and the first wrong shape."""
    problems = []
    missing = [name for name in expected if name not in found]
    unexpected = [name for name in found if name not in expected]
    if missing:
        problems.append(f"{len(missing)} missing tensors (first: {', '.join(missing[:3])})")
    if unexpected:
        problems.append(
            f"{len(unexpected)} unexpected tensors (first: {', '.join(unexpected[:3])})"
        )
    for name, shape in expected.items():
        if name in found and tuple(found[name]) != tuple(shape):
            problems.append(f"tensor {name} has shape {list(found[name])}, expected {list(shape)}")
            break
    if problems:
        raise CheckpointError(path, "; ".join(problems), layout)
