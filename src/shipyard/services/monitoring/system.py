"""System signals: a deployment's requests, errors, latency and worker CPU/memory, per minute.

The scoring router counts every request into :class:`SystemAggregator` (a dict increment
under a lock held for that increment only: no I/O, no await). Once a minute a background
thread closes the minutes that have ended, samples the CPU and resident memory of each
known deployment's local workers, and hands one row per (workspace, endpoint, deployment,
minute) to the :class:`~shipyard.services.data_collection.DataCollector` as collection
``system`` — so the rows land, with the collector's writer, key layout and drop counting, at::

    _collected/<ws>/<endpoint>/<deployment>/system/<yyyy>/<mm>/<dd>/<hh>/part-<ms>-<id>.parquet

A row's ``timestamp`` is the minute's start (ms) and its ``data`` the minute as JSON
(``requests``, ``errors``, ``latency_ms_counts``, ``cpu_percent``, ``memory_mb``). Every
server writes its own rows; :func:`system_signal` merges them, so the numbers are shared by all
servers that serve the deployment.

CPU percent is psutil's ``cpu_percent`` since the previous sample, so a sample taken at a
minute's end is that minute's average (100 = one core busy); a worker seen for the first
time has no CPU figure until the next minute.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
import psutil

from shipyard.errors import InvalidArgument
from shipyard.services.data_collection import COLLECTED_PREFIX, CollectedRow, DataCollector
from shipyard.services.monitoring.production import hour_prefixes
from shipyard.services.ports import ArtifactStore
from shipyard.services.serving_ports import DeploymentKey, DeploymentRuntime

if TYPE_CHECKING:
    from shipyard.domain.context import RequestContext
    from shipyard.services.endpoint_deployments import DeploymentService

__all__ = [
    "LATENCY_EDGES_MS",
    "MAX_MINUTES",
    "SYSTEM_COLLECTION",
    "DeploymentSystemService",
    "SystemAggregator",
    "histogram_quantile",
    "system_minutes",
    "system_signal",
]

log = logging.getLogger("shipyard.monitoring.system")

SYSTEM_COLLECTION = "system"

LATENCY_EDGES_MS = (
    1.0,
    2.5,
    5.0,
    10.0,
    25.0,
    50.0,
    100.0,
    250.0,
    500.0,
    1000.0,
    2500.0,
    5000.0,
    10000.0,
    30000.0,
)
"""Fixed bucket edges, the same as ``/metrics``' latency histogram: bucket 0 holds latencies
below 1 ms, bucket i those in [edges[i-1], edges[i]), the last those of 30 s and more. Fixed
edges make every server's minutes mergeable by adding counts."""

_MINUTE_MS = 60_000


@dataclass(slots=True)
class _Minute:
    requests: int = 0
    errors: int = 0
    latency: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_EDGES_MS) + 1))


def _minute_json(minute: _Minute, cpu_percent: float | None, memory_mb: float | None) -> str:
    """A minute as the ``data`` of its collected row."""
    return orjson.dumps(
        {
            "requests": minute.requests,
            "errors": minute.errors,
            "latency_ms_counts": minute.latency,
            "cpu_percent": cpu_percent,
            "memory_mb": memory_mb,
        }
    ).decode()


class SystemAggregator:
    """Per-minute counts of the scoring path, flushed to the collector every minute.

    ``runtime`` tells which local workers a deployment has (their pids are sampled);
    ``collector`` writes the rows (it must be started, and stopped only after :meth:`close`).
    ``clock`` (seconds since the epoch) is there for tests."""

    def __init__(
        self,
        collector: DataCollector,
        runtime: DeploymentRuntime,
        *,
        clock: Callable[[], float] = time.time,
        grace_s: float = 2.0,
    ) -> None:
        self.collector = collector
        self.runtime = runtime
        self.clock = clock
        self.grace_s = grace_s  # requests that began before the minute's end may finish late
        self._lock = threading.Lock()
        self._minutes: dict[tuple[DeploymentKey, int], _Minute] = {}
        self._known: set[DeploymentKey] = set()
        self._processes: dict[int, psutil.Process] = {}
        self._last_closed = int(clock() * 1000) // _MINUTE_MS * _MINUTE_MS
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- hot path ------------------------------------------------------------------

    def observe(self, workspace: str, endpoint: str, deployment: str, status: int, seconds: float) -> None:
        """One scoring request answered (any status); a 4xx or 5xx counts as an error."""
        minute = int(self.clock() * 1000) // _MINUTE_MS * _MINUTE_MS
        bucket = bisect.bisect_right(LATENCY_EDGES_MS, seconds * 1000)
        key = (DeploymentKey(workspace, endpoint, deployment), minute)
        with self._lock:
            counts = self._minutes.get(key)
            if counts is None:
                counts = self._minutes[key] = _Minute()
            counts.requests += 1
            counts.errors += status >= 400
            counts.latency[bucket] += 1

    # -- life cycle ----------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="shipyard-system-signals", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Hand every minute counted so far, the current one included, to the collector."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.flush(everything=True)

    def _run(self) -> None:
        while True:
            now = self.clock()
            next_close = (int(now) // 60 + 1) * 60 + self.grace_s
            if self._stop.wait(max(0.1, next_close - now)):
                return
            try:
                self.flush()
            except Exception:  # a failed sample must not end the thread: next minute tries again
                log.exception("flushing system signals failed")

    def flush(self, *, everything: bool = False) -> int:
        """Hand the minutes that have ended (all, with ``everything``) to the collector, with
        a CPU/memory sample of each known deployment; the number of rows handed over."""
        now_ms = int(self.clock() * 1000)
        current = now_ms // _MINUTE_MS * _MINUTE_MS
        with self._lock:
            closed = {k: v for k, v in self._minutes.items() if everything or k[1] < current}
            for k in closed:
                del self._minutes[k]
            self._known.update(key for key, _ in closed)
            known = set(self._known)
        samples = {key: self._sample(key) for key in known}
        self._forget_gone_processes(known)
        # A known deployment without traffic in a closed minute still gets its row: a request
        # rate of 0 is what a traffic-drop threshold is there to see.
        minutes = {minute for _, minute in closed}
        if self._last_closed < current:
            minutes.add(current - _MINUTE_MS)
        self._last_closed = max(self._last_closed, current)
        rows = 0
        for minute in sorted(minutes):
            for key in sorted(known, key=str):
                counts = closed.get((key, minute))
                if counts is None and (key not in samples or samples[key] is None):
                    continue  # gone: no workers and no traffic
                cpu, memory = samples.get(key) or (None, None)
                self.collector.collect(
                    CollectedRow(
                        key.workspace,
                        key.endpoint,
                        key.deployment,
                        SYSTEM_COLLECTION,
                        f"system-{minute}",
                        minute,
                        _minute_json(counts or _Minute(), cpu, memory),
                    )
                )
                rows += 1
        with self._lock:
            self._known -= {key for key, sample in samples.items() if sample is None}
        return rows

    def _forget_gone_processes(self, known: set[DeploymentKey]) -> None:
        live = {i.pid for key in known for i in self.runtime.instances(key) if i.pid is not None}
        for pid in set(self._processes) - live:
            del self._processes[pid]

    def _sample(self, key: DeploymentKey) -> tuple[float | None, float] | None:
        """(CPU percent, RSS MB) summed over the deployment's live workers; None without any."""
        pids = [i.pid for i in self.runtime.instances(key) if i.pid is not None]
        if not pids:
            return None
        cpu: float | None = None
        memory = 0.0
        for pid in pids:
            fresh = pid not in self._processes
            try:
                process = self._processes.get(pid) or psutil.Process(pid)
                self._processes[pid] = process
                percent = process.cpu_percent(None)  # since the previous call: the minute's mean
                memory += process.memory_info().rss / (1024 * 1024)
            except psutil.Error:
                self._processes.pop(pid, None)
                continue
            if not fresh:
                cpu = (cpu or 0.0) + percent
        return cpu, memory


# -- reading -----------------------------------------------------------------------


def system_signal(
    store: ArtifactStore, workspace: str, endpoint: str, deployment: str, start_ms: int, end_ms: int
) -> dict[str, float | None]:
    """The ``system`` metrics of a deployment over [start_ms, end_ms); None where no minute
    in the window has data. Rows of the same minute (several servers) are added up first."""
    minutes = _minutes_in(store, workspace, endpoint, deployment, start_ms, end_ms)
    requests = sum(m["requests"] for m in minutes.values())
    errors = sum(m["errors"] for m in minutes.values())
    histogram = [0] * (len(LATENCY_EDGES_MS) + 1)
    for m in minutes.values():
        histogram = [a + b for a, b in zip(histogram, m["latency_ms_counts"], strict=True)]
    window_minutes = max(end_ms - start_ms, 1) / _MINUTE_MS
    return {
        "request_rate": requests / window_minutes if minutes else None,
        "latency_p50_ms": histogram_quantile(histogram, 0.5),
        "latency_p99_ms": histogram_quantile(histogram, 0.99),
        "error_rate": errors / requests if requests else None,
        "cpu_percent": _max_of(m["cpu_percent"] for m in minutes.values()),
        "memory_mb": _max_of(m["memory_mb"] for m in minutes.values()),
    }


def system_minutes(
    store: ArtifactStore, workspace: str, endpoint: str, deployment: str, start_ms: int, end_ms: int
) -> list[dict[str, Any]]:
    """The minutes of [start_ms, end_ms) that some server wrote, oldest first, each added up
    over the servers (as :func:`system_signal` does) and its latency histogram read as p50/p99.
    A minute nobody wrote is left out: "no data" is not "no requests"."""
    minutes = _minutes_in(store, workspace, endpoint, deployment, start_ms, end_ms)
    return [
        {
            "at": at,
            "requests": int(m["requests"]),
            "errors": int(m["errors"]),
            "latency_p50_ms": histogram_quantile(m["latency_ms_counts"], 0.5),
            "latency_p99_ms": histogram_quantile(m["latency_ms_counts"], 0.99),
            "cpu_percent": m["cpu_percent"],
            "memory_mb": m["memory_mb"],
        }
        for at, m in sorted(minutes.items())
    ]


MAX_MINUTES = 1440
"""The longest window the API reads at once: a day, 24 hour folders."""


class DeploymentSystemService:
    """A deployment's per-minute system figures for the API: the last N minutes up to now."""

    def __init__(
        self, deployments: DeploymentService, store: ArtifactStore, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.deployments = deployments
        self.store = store
        self.clock = clock

    def minutes(
        self, ctx: RequestContext, endpoint: str, deployment: str, count: int
    ) -> list[dict[str, Any]]:
        """The last ``count`` minutes, the current (still open) one included: it has a row only
        once a server closed it, so it is normally absent."""
        if not 1 <= count <= MAX_MINUTES:
            raise InvalidArgument(f"minutes must be from 1 to {MAX_MINUTES}, not {count}", field="minutes")
        self.deployments.get(ctx, endpoint, deployment)  # unknown endpoint or deployment: its 404
        end_ms = int(self.clock() * 1000) // _MINUTE_MS * _MINUTE_MS + _MINUTE_MS
        start_ms = end_ms - count * _MINUTE_MS
        return system_minutes(self.store, ctx.workspace, endpoint, deployment, start_ms, end_ms)


def histogram_quantile(counts: list[int], q: float) -> float | None:
    """The q-quantile of latencies counted in :data:`LATENCY_EDGES_MS` buckets, interpolated
    linearly within its bucket (as Prometheus' ``histogram_quantile``); the open last bucket
    answers its lower edge, the first bucket interpolates from 0 ms."""
    total = sum(counts)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for index, count in enumerate(counts):
        if count and seen + count >= rank:
            if index == len(LATENCY_EDGES_MS):
                return LATENCY_EDGES_MS[-1]
            lower = 0.0 if index == 0 else LATENCY_EDGES_MS[index - 1]
            upper = LATENCY_EDGES_MS[index]
            return lower + (upper - lower) * (rank - seen) / count
        seen += count
    return LATENCY_EDGES_MS[-1]


def _max_of(values: Any) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _minutes_in(
    store: ArtifactStore, workspace: str, endpoint: str, deployment: str, start_ms: int, end_ms: int
) -> dict[int, dict[str, Any]]:
    import pyarrow.parquet as pq

    folder = f"{COLLECTED_PREFIX}/{workspace}/{endpoint}/{deployment}/{SYSTEM_COLLECTION}"
    merged: dict[int, dict[str, Any]] = {}
    for prefix in hour_prefixes(folder, start_ms, end_ms):
        for key in sorted(info.key for info in store.list(prefix) if info.key.endswith(".parquet")):
            with store.get(key) as handle:
                table = pq.read_table(handle, columns=["timestamp", "data"])
            minutes = table.column("timestamp").to_pylist()
            for at, data in zip(minutes, table.column("data").to_pylist(), strict=True):
                if start_ms <= at < end_ms:
                    _merge(merged, at, orjson.loads(data))
    return merged


def _merge(merged: dict[int, dict[str, Any]], minute: int, row: Mapping[str, Any]) -> None:
    into = merged.get(minute)
    if into is None:
        merged[minute] = dict(row)
        return
    into["requests"] += row["requests"]
    into["errors"] += row["errors"]
    into["latency_ms_counts"] = [
        a + b for a, b in zip(into["latency_ms_counts"], row["latency_ms_counts"], strict=True)
    ]
    for name in ("cpu_percent", "memory_mb"):  # each server samples its own workers: they add up
        if row[name] is not None:
            into[name] = (into[name] or 0.0) + row[name]
