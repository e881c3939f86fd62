"""The error a released model folder raises when it is not as released."""

from __future__ import annotations

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
