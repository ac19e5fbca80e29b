"""``/metrics``: the scoring router's requests, errors and latency in Prometheus text format.

One registry per app (not prometheus_client's global one), so two apps in one process —
tests, the server and ``shipyard serve`` — never mix their counts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from shipyard.services.data_collection import DropKey

__all__ = ["CONTENT_TYPE", "ScoringMetrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST

# From 1 ms (a small model on a warm worker) to 30 s (a request_timeout_ms far up).
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ScoringMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "shipyard_endpoint_requests",
            "Scoring requests by endpoint, deployment, HTTP status and whether they were mirror copies.",
            ["endpoint", "deployment", "status", "mirror"],
            registry=self.registry,
        )
        self.errors = Counter(
            "shipyard_endpoint_errors",
            "Scoring requests answered with a 4xx or 5xx status.",
            ["endpoint", "deployment", "status", "mirror"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "shipyard_endpoint_request_duration_seconds",
            "Time from the router receiving a scoring request to its answer.",
            ["endpoint", "deployment", "mirror"],
            buckets=_BUCKETS,
            registry=self.registry,
        )

    def count_dropped_rows(self, source: Callable[[], Mapping[DropKey, int]]) -> None:
        """Expose the data collector's dropped rows, read from ``source`` at each scrape."""
        self.registry.register(_DroppedRows(source))

    def observe(self, endpoint: str, deployment: str, status: int, seconds: float, *, mirror: bool) -> None:
        shadow = "true" if mirror else "false"
        code = str(status)
        self.requests.labels(endpoint, deployment, code, shadow).inc()
        if status >= 400:
            self.errors.labels(endpoint, deployment, code, shadow).inc()
        self.latency.labels(endpoint, deployment, shadow).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _DroppedRows(Collector):
    """The collector keeps its own counts (it drops rows on two threads, under its lock); a
    scrape reads them rather than mirroring every drop into a second counter."""

    def __init__(self, source: Callable[[], Mapping[DropKey, int]]) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "shipyard_collected_rows_dropped",
            "Collected scoring rows (model_inputs, model_outputs) dropped, and why.",
            labels=["endpoint", "deployment", "collection", "reason"],
        )
        for labels, count in sorted(self.source().items()):
            family.add_metric(list(labels), count)
        yield family
