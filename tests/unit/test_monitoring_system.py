"""System signals: the scoring path's per-minute counts, written through the data collector
to the artifact store as Parquet, read back as a monitor's system metrics.

The runtime is a test double listing one real process (a child ``sleep``) as the deployment's
worker: CPU and memory are sampled from that real pid. The clock is a variable, so minutes
close when the test says, not when the wall clock does."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shipyard.domain.endpoints import AuthMode, DeploymentState
from shipyard.server.scoring import ScoringRouter
from shipyard.server.scoring_metrics import ScoringMetrics
from shipyard.services.data_collection import DataCollector
from shipyard.services.endpoint_ports import DeploymentRoute, RoutingTable
from shipyard.services.monitoring.system import (
    LATENCY_EDGES_MS,
    SystemAggregator,
    histogram_quantile,
    system_signal,
)
from shipyard.services.serving_ports import (
    DeploymentKey,
    DeploymentPlan,
    DeploymentRuntime,
    Instance,
    InstanceState,
)
from shipyard.stores.artifacts.local import LocalArtifactStore

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z, a minute's start
KEY = DeploymentKey("default", "credit", "blue")


class ListedWorkers(DeploymentRuntime):
    """Lists workers; the rest of the interface is not the aggregator's business."""

    def __init__(self) -> None:
        self.workers: dict[DeploymentKey, list[Instance]] = {}

    def apply(self, plan: DeploymentPlan) -> None:
        raise NotImplementedError

    def instances(self, key: DeploymentKey) -> list[Instance]:
        return list(self.workers.get(key, []))

    def wait_ready(self, key: DeploymentKey, timeout_s: float) -> list[Instance]:
        return self.instances(key)

    def remove(self, key: DeploymentKey, drain_s: float = 5.0) -> None:
        self.workers.pop(key, None)

    def logs(self, key: DeploymentKey, lines: int = 100) -> str:
        return ""

    def close(self) -> None:
        self.workers.clear()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> LocalArtifactStore:
    return LocalArtifactStore(tmp_path / "artifacts")


@pytest.fixture
def collector(store: LocalArtifactStore) -> Iterator[DataCollector]:
    made = DataCollector(store, flush_s=60)
    made.start()
    yield made
    made.stop()


@pytest.fixture
def runtime() -> Iterator[ListedWorkers]:
    worker = subprocess.Popen(
        [sys.executable, "-c", "import time; print('ready', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE,
        text=True,
    )
    # Measured only once the interpreter is up: a process caught between fork and Python's
    # start has a fraction of a worker's memory (0.57 MB seen on a loaded machine).
    assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
    listed = ListedWorkers()
    listed.workers[KEY] = [Instance(0, InstanceState.READY, "unix:/nowhere", pid=worker.pid)]
    yield listed
    worker.kill()
    worker.wait()
    worker.stdout.close()


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def test_minutes_are_written_as_parquet_and_read_back_as_the_system_metrics(
    store: LocalArtifactStore, collector: DataCollector, runtime: ListedWorkers
) -> None:
    clock = Clock()
    system = SystemAggregator(collector, runtime, clock=clock)
    for _ in range(98):
        system.observe("default", "credit", "blue", 200, 0.015)  # bucket [10, 25) ms
    system.observe("default", "credit", "blue", 500, 0.3)
    system.observe("default", "credit", "blue", 400, 40.0)  # past the last edge
    clock.now = T0 + 60
    system.observe("default", "credit", "blue", 200, 0.015)  # the next minute, still open
    assert system.flush() == 1
    clock.now = T0 + 120
    assert system.flush() == 1
    collector.flush()
    keys = [info.key for info in store.list("_collected/default/credit/blue/system/")]
    # Both minutes went in one part: the collector batches what is queued by hour folder.
    assert [k.rsplit("-", 2)[0] for k in keys] == ["_collected/default/credit/blue/system/2026/01/01/00/part"]

    first = system_signal(store, "default", "credit", "blue", _ms(T0), _ms(T0 + 60))
    assert first["request_rate"] == 100.0
    assert first["error_rate"] == pytest.approx(0.02)
    assert first["latency_p50_ms"] == pytest.approx(10 + 15 * 50 / 98)  # interpolated in [10, 25)
    assert first["latency_p99_ms"] == pytest.approx(500.0)  # rank 99 of 100: the top of [250, 500)
    assert first["memory_mb"] is not None and first["memory_mb"] > 1
    assert first["cpu_percent"] is None  # a worker seen for the first time has no CPU figure yet

    both = system_signal(store, "default", "credit", "blue", _ms(T0), _ms(T0 + 120))
    assert both["request_rate"] == 50.5  # 101 requests over 2 minutes
    assert both["cpu_percent"] is not None and both["cpu_percent"] >= 0  # sampled since the last minute


def test_rows_of_several_servers_for_one_minute_add_up(
    store: LocalArtifactStore, collector: DataCollector, runtime: ListedWorkers
) -> None:
    clock = Clock()
    servers = [SystemAggregator(collector, runtime, clock=clock) for _ in range(2)]
    for server in servers:
        for _ in range(30):
            server.observe("default", "credit", "blue", 200, 0.002)
    servers[1].observe("default", "credit", "blue", 503, 0.002)
    clock.now = T0 + 61
    for server in servers:
        server.flush()
    collector.flush()
    merged = system_signal(store, "default", "credit", "blue", _ms(T0), _ms(T0 + 60))
    assert merged["request_rate"] == 61.0
    assert merged["error_rate"] == pytest.approx(1 / 61)


def test_a_known_deployment_without_traffic_reads_as_a_rate_of_zero(
    store: LocalArtifactStore, collector: DataCollector, runtime: ListedWorkers
) -> None:
    clock = Clock()
    system = SystemAggregator(collector, runtime, clock=clock)
    system.observe("default", "credit", "blue", 200, 0.01)
    clock.now = T0 + 60
    system.flush()
    clock.now = T0 + 120  # a whole minute without a request
    assert system.flush() == 1
    collector.flush()
    quiet = system_signal(store, "default", "credit", "blue", _ms(T0 + 60), _ms(T0 + 120))
    assert quiet["request_rate"] == 0.0
    assert quiet["error_rate"] is None and quiet["latency_p50_ms"] is None and quiet["latency_p99_ms"] is None
    assert quiet["memory_mb"] is not None


def test_a_deployment_whose_workers_are_gone_stops_writing(
    collector: DataCollector, runtime: ListedWorkers
) -> None:
    clock = Clock()
    system = SystemAggregator(collector, runtime, clock=clock)
    system.observe("default", "old", "red", 200, 0.01)  # no workers listed for it
    clock.now = T0 + 60
    assert system.flush() == 1  # its counted minute is still kept
    clock.now = T0 + 120
    assert system.flush() == 0


def test_close_hands_over_the_open_minute(
    store: LocalArtifactStore, collector: DataCollector, runtime: ListedWorkers
) -> None:
    clock = Clock()
    system = SystemAggregator(collector, runtime, clock=clock)
    system.start()
    system.observe("default", "credit", "blue", 200, 0.01)
    system.close()
    collector.flush()
    assert system_signal(store, "default", "credit", "blue", _ms(T0), _ms(T0 + 60))["request_rate"] == 1.0


def test_a_window_without_data_answers_none(store: LocalArtifactStore) -> None:
    empty = system_signal(store, "default", "credit", "blue", _ms(T0), _ms(T0 + 3600))
    assert set(empty) == {
        "request_rate",
        "latency_p50_ms",
        "latency_p99_ms",
        "error_rate",
        "cpu_percent",
        "memory_mb",
    }
    assert all(value is None for value in empty.values())


def test_quantiles_interpolate_within_a_bucket() -> None:
    counts = [0] * (len(LATENCY_EDGES_MS) + 1)
    assert histogram_quantile(counts, 0.5) is None
    counts[0] = 10  # [0, 1) ms
    assert histogram_quantile(counts, 0.5) == pytest.approx(0.5)
    counts[-1] = 10  # 30 s and more: the open bucket answers its lower edge
    assert histogram_quantile(counts, 0.99) == LATENCY_EDGES_MS[-1]


def test_the_scoring_router_counts_what_a_deployment_answered(
    store: LocalArtifactStore, collector: DataCollector
) -> None:
    """In-process (ASGI): a deployment without a ready worker answers 503 — an error of that
    deployment; an unknown endpoint names no deployment and is not counted."""
    clock = Clock()
    runtime = ListedWorkers()
    system = SystemAggregator(collector, runtime, clock=clock)
    route = DeploymentRoute(DeploymentKey("team", "credit", "blue"), DeploymentState.SUCCEEDED)
    table = RoutingTable("team", "credit", AuthMode.NONE, (), {"blue": 100}, {}, {"blue": route})

    def routes(workspace: str, endpoint: str) -> RoutingTable:
        from shipyard.errors import NotFound

        if (workspace, endpoint) != ("team", "credit"):
            raise NotFound(f"no endpoint {endpoint!r}")
        return table

    router = ScoringRouter(routes, runtime, metrics=ScoringMetrics(), system=system)

    async def score() -> list[int]:
        transport = httpx.ASGITransport(app=router, root_path="/endpoints")  # mounted there
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            team = {"shipyard-workspace": "team"}
            answers = [(await http.post("/endpoints/credit/score", json={}, headers=team)) for _ in range(3)]
            answers.append(await http.post("/endpoints/nope/score", json={}))
        await router.close()
        return [answer.status_code for answer in answers]

    assert asyncio.run(score()) == [503, 503, 503, 404]
    system.close()
    collector.flush()
    assert system_signal(store, "team", "credit", "blue", _ms(T0), _ms(T0 + 60))["error_rate"] == 1.0
    assert system_signal(store, "team", "credit", "blue", _ms(T0), _ms(T0 + 60))["request_rate"] == 3.0
    assert not list(store.list("_collected/default/"))
