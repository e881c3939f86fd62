"""The plugin hooks stepaudio-api calls; plugins implement them with ``@hookimpl``."""

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("stepaudio_api")


@hookspec
def register_engines(register: Any, settings: Any) -> None:
    """Register engine types: call ``register(EngineClass)`` for each; settings is the Settings."""
