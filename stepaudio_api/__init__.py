"""stepaudio-api: an OpenAI-compatible speech platform for the Step-Audio model family.

Plugins import what they need from here: ``hookimpl`` and the things they register.
"""

import pluggy

from stepaudio_api.extensions.dialects import Dialect
from stepaudio_api.extensions.tools import Tool, ToolError, ToolTimeout
from stepaudio_api.extensions.voices import PackVoice

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("stepaudio_api")
"""Marker for plugin hook implementations: ``from stepaudio_api import hookimpl``."""

__all__ = ["Dialect", "PackVoice", "Tool", "ToolError", "ToolTimeout", "__version__", "hookimpl"]
