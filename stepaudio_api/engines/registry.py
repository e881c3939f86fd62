"""Engine instances built from configuration, loaded and warmed once, with their readiness."""

from __future__ import annotations

import logging
import time
from collections.abc import Collection

from stepaudio_api.engines.base import Engine, EngineNotConfigured, EngineTypes
from stepaudio_api.engines.worker_pool import WorkerPool
from stepaudio_api.plugins import Plugins
from stepaudio_api.settings import Settings

logger = logging.getLogger(__name__)


class EngineRegistry:
    def __init__(self, settings: Settings, plugins: Plugins) -> None:
        self.types = EngineTypes()
        plugins.register_all("register_engines", "engines", self.types.register, settings=settings)
        workers = settings.workers
        self.pool = WorkerPool(workers.threads, workers.queue_size, workers.retry_after_seconds)
        self.engines: dict[str, Engine] = {}
        self.state: dict[str, str] = {}
        for name, options in settings.engines.items():
            engine_type = options["type"]
            engine_class = self.types.by_type.get(engine_type)
            if engine_class is None:
                # a plugin that is not installed (or failed to load) must not stop the others
                known = ", ".join(sorted(self.types.by_type)) or "none"
                self.state[name] = (
                    f"unavailable: no plugin registers engine type '{engine_type}' "
                    f"(registered types: {known})"
                )
                logger.warning("engine %s %s", name, self.state[name])
                continue
            options = {k: v for k, v in options.items() if k != "type"}
            self.engines[name] = engine_class(name, options, self.pool)
            self.state[name] = "loading"
        for name, engine in list(self.engines.items()):
            try:
                engine.bind(self.engines)
            except ValueError as exc:
                self.state[name] = f"unavailable: {exc}"
                logger.warning("engine %s %s", name, self.state[name])
                del self.engines[name]

    def unavailable(self) -> dict[str, str]:
        """Configured engines that no loaded plugin provides, with the reason."""
        return {n: s for n, s in self.state.items() if s.startswith("unavailable")}

    def optional(self, name: str) -> bool:
        """An engine that does not hold readiness back: its plugin is missing, or it lacks
        settings the deployment chose not to give (a chat upstream)."""
        return self.state.get(name, "").startswith(("unavailable", "not configured"))

    async def start(self, only: Collection[str] | None = None) -> None:
        """Load and warm every engine (or those named in ``only``) in the worker pool, one
        after another."""
        for name, engine in self.engines.items():
            if only is not None and name not in only:
                continue
            started = time.perf_counter()
            try:
                await self.pool.run(engine.load)
                await self.pool.run(engine.warm)
            except EngineNotConfigured as exc:
                self.state[name] = f"not configured: {exc}"
                logger.warning("engine %s is not configured: %s", name, exc)
                continue
            except Exception as exc:
                self.state[name] = f"failed: {exc}"
                logger.exception("engine %s failed to load", name)
                continue
            self.state[name] = "ready"
            logger.info("engine %s ready in %.2f s", name, time.perf_counter() - started)

    def is_ready(self, name: str) -> bool:
        return self.state.get(name) == "ready"

    def pool_figures(self) -> dict[str, float]:
        return {
            "threads": self.pool.threads,
            "active_requests": self.pool.active_requests,
            "queue_depth": self.pool.queue_depth,
        }

    async def aclose(self) -> None:
        """Close every engine's connections (chat upstreams), then the worker pool."""
        for name, engine in self.engines.items():
            try:
                await engine.aclose()
            except Exception:
                logger.exception("engine %s did not close cleanly", name)
        self.shutdown()

    def shutdown(self) -> None:
        self.pool.shutdown()
