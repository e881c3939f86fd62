"""Prometheus metrics of one server process, in its own registry."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class _Gauges(Collector):
    """Gauges read when Prometheus scrapes rather than updated on every change."""

    def __init__(self, prefix: str, what: str, read: Callable[[], dict[str, float]]) -> None:
        self.prefix, self.what, self.read = prefix, what, read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, value in self.read().items():
            yield GaugeMetricFamily(f"stepaudio_{self.prefix}_{name}", f"{self.what}: {name}.",
                                    value=value)  # fmt: skip


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "stepaudio_http_requests",
            "HTTP requests and WebSocket connections by route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "stepaudio_http_request_duration_seconds",
            "Time from the request to the end of the response body.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.audio_seconds = Counter(
            "stepaudio_audio_seconds",
            "Seconds of audio, received (in) and produced (out), by capability.",
            ["capability", "direction"],
            registry=self.registry,
        )
        self.characters = Counter(
            "stepaudio_input_characters",
            "Characters of text received for speech, by model.",
            ["model"],
            registry=self.registry,
        )
        self.metered = Counter(
            "stepaudio_metered_requests",
            "Metered requests by capability and outcome.",
            ["capability", "status"],
            registry=self.registry,
        )
        self.quota_refusals = Counter(
            "stepaudio_quota_refusals",
            "Requests refused with 429 insufficient_quota, by quota.",
            ["quota"],
            registry=self.registry,
        )

    def watch_engines(self, read: Callable[[], dict[str, float]]) -> None:
        self.registry.register(_Gauges("engine", "Engine worker pool", read))

    def watch_server(self, read: Callable[[], dict[str, float]]) -> None:
        """What a long run must not let grow: tasks, database connections, open sessions."""
        self.registry.register(_Gauges("server", "Server process", read))

    def render(self) -> bytes:
        return generate_latest(self.registry)
