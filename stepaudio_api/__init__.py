"""stepaudio-api: an OpenAI-compatible speech platform for the Step-Audio model family."""

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("stepaudio_api")
"""Marker for plugin hook implementations: ``from stepaudio_api import hookimpl``."""

__all__ = ["__version__", "hookimpl"]
