"""The plugin manager: hookspecs, the default plugins, entry points of group stepaudio_api, and
calls that keep one broken plugin from taking the others (or the server) down."""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from stepaudio_api import hookspecs

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "stepaudio_api"
DEFAULT_PLUGINS = ("stepaudio_api.default_plugins.embedded_engines",)


@dataclass
class PluginInfo:
    name: str
    version: str | None = None
    distribution: str | None = None
    hooks: list[str] = field(default_factory=list)
    registered: dict[str, list[str]] = field(default_factory=dict)
    """What the plugin registered, by kind: engines, voices, tools, dialects."""
    errors: list[str] = field(default_factory=list)
    """Why it (or one of its hooks) failed; the server goes on without that part."""


class Plugins:
    """The manager and what is known of each plugin: version, hooks, registrations, errors."""

    def __init__(
        self, manager: pluggy.PluginManager, info: dict[str, PluginInfo], trace: bool = False
    ) -> None:
        self.manager = manager
        self.info = info
        self.trace = trace
        """Log every hook call (STEPAUDIO_TRACE_PLUGINS=1)."""

    def _implementations(self, hook_name: str, available: dict[str, Any]) -> list[Any]:
        """A hook's implementations in pluggy's calling order (tryfirst ... trylast)."""
        impls = list(reversed(getattr(self.manager.hook, hook_name).get_hookimpls()))
        if self.trace and not impls:
            logger.info("hook %s(%s) -> no plugin", hook_name, ", ".join(available))
        return impls

    def _call(self, impl: pluggy.HookImpl, hook_name: str, available: dict[str, Any]) -> Any:
        # a hook implementation may accept any subset of the hook's arguments
        kwargs = {name: available[name] for name in impl.argnames if name in available}
        result = impl.function(**kwargs)
        if self.trace:
            logger.info("hook %s(%s) -> %s returned %r", hook_name, ", ".join(available),
                        impl.plugin_name, result)  # fmt: skip
        return result

    @property
    def hook(self) -> Any:
        return self.manager.hook

    def describe(self) -> list[PluginInfo]:
        for name, plugin in self.manager.list_name_plugin():
            entry = self.info.setdefault(name, PluginInfo(name))
            entry.hooks = sorted(h.name for h in self.manager.get_hookcallers(plugin) or [])
        return sorted(self.info.values(), key=lambda p: p.name)

    def _failed(self, plugin_name: str, hook_name: str, exc: BaseException) -> None:
        message = f"{hook_name} raised {type(exc).__name__}: {exc}"
        self.info.setdefault(plugin_name, PluginInfo(plugin_name)).errors.append(message)
        logger.error("plugin %s: %s", plugin_name, message, exc_info=exc)

    def register_all(
        self, hook_name: str, kind: str, register: Callable[..., Any], **kwargs: Any
    ) -> None:
        """Call a registration hook plugin by plugin: ``register`` gets ``plugin=`` (the
        plugin's name) added; a plugin whose hook raises is reported and skipped."""
        for impl in self._implementations(hook_name, {"register": register, **kwargs}):
            name = impl.plugin_name

            def register_for(item: Any, *args: Any, _name: str = name, **kw: Any) -> None:
                register(item, *args, plugin=_name, **kw)
                label = getattr(item, "name", None) or getattr(item, "type", None) or repr(item)
                info = self.info.setdefault(_name, PluginInfo(_name))
                info.registered.setdefault(kind, []).append(str(label))

            try:
                self._call(impl, hook_name, {"register": register_for, **kwargs})
            except Exception as exc:
                self._failed(name, hook_name, exc)

    async def notify(self, hook_name: str, **kwargs: Any) -> list[Any]:
        """Call a lifecycle or observer hook on every plugin, awaiting what they return; one
        plugin's failure is reported and does not stop the others."""
        results = []
        for impl in self._implementations(hook_name, kwargs):
            try:
                result = self._call(impl, hook_name, kwargs)
                if inspect.isawaitable(result):
                    result = await result
                results.append(result)
            except Exception as exc:
                self._failed(impl.plugin_name, hook_name, exc)
        return results

    def call_each(self, hook_name: str, **kwargs: Any) -> None:
        """Call a synchronous hook on every plugin; one that raises is reported and passed
        over (the ``register_commands`` hook at the command line)."""
        for impl in self._implementations(hook_name, kwargs):
            try:
                self._call(impl, hook_name, kwargs)
            except Exception as exc:
                self._failed(impl.plugin_name, hook_name, exc)

    def first(self, hook_name: str, **kwargs: Any) -> Any:
        """A firstresult hook, with a raising plugin reported and passed over."""
        for impl in self._implementations(hook_name, kwargs):
            try:
                result = self._call(impl, hook_name, kwargs)
            except Exception as exc:
                self._failed(impl.plugin_name, hook_name, exc)
                continue
            if result is not None:
                return result
        return None


def get_plugin_manager(
    only: list[str] | None = None, extra: dict[str, object] | None = None, trace: bool = False
) -> Plugins:
    """The default plugins and every installed entry-point plugin; ``only``
    (STEPAUDIO_PLUGINS) limits which load, by name. A plugin that cannot be imported is
    reported under its name, and the others load. ``extra`` adds plugin objects by name (what
    stepaudio_api.testing uses to test a plugin without installing it)."""
    manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
    manager.add_hookspecs(hookspecs)
    info: dict[str, PluginInfo] = {}
    plugins = Plugins(manager, info, trace=trace)
    for module_name in DEFAULT_PLUGINS:
        if only is None or module_name in only:
            manager.register(importlib.import_module(module_name), name=module_name)
            info[module_name] = PluginInfo(module_name, version=_own_version())
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if only is not None and entry_point.name not in only:
            continue
        if manager.get_plugin(entry_point.name) is not None:
            continue
        dist = entry_point.dist
        entry = PluginInfo(
            entry_point.name,
            version=dist.version if dist else None,
            distribution=dist.name if dist else None,
        )
        info[entry_point.name] = entry
        try:
            manager.register(entry_point.load(), name=entry_point.name)
        except Exception as exc:
            plugins._failed(entry_point.name, "import", exc)
    for name, plugin in (extra or {}).items():
        manager.register(plugin, name=name)
        info[name] = PluginInfo(name)
    manager.check_pending()
    return plugins


def _own_version() -> str:
    from stepaudio_api import __version__

    return __version__


def describe_plugins(settings: Any) -> list[dict[str, Any]]:
    """Every plugin with what it registers, loading them as the server would (without
    loading any engine): what `stepaudio-api plugins` prints."""
    from stepaudio_api.services import Services

    services = Services.build(settings)
    try:
        return [vars(info) for info in services.plugins.describe()]
    finally:
        services.engines.shutdown()
