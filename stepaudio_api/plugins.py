"""The plugin manager: hookspecs, the default plugins, and entry points of group stepaudio_api."""

from __future__ import annotations

import importlib
import logging

import pluggy

from stepaudio_api import hookspecs

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "stepaudio_api"
DEFAULT_PLUGINS = ("stepaudio_api.default_plugins.embedded_engines",)


def get_plugin_manager(only: list[str] | None = None) -> pluggy.PluginManager:
    """Build the manager; ``only`` (STEPAUDIO_PLUGINS) limits which plugins load, by name."""
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    for module_name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
    pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    if only is not None:
        for name, _ in list(pm.list_name_plugin()):
            if name not in only:
                pm.unregister(name=name)
    pm.check_pending()
    return pm
