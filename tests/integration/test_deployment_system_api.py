"""GET /api/v1/online-endpoints/{name}/deployments/{deployment}/system: the per-minute rows the
scoring path writes (issue 14's ``system`` collection), read back through the API.

The rows are written by the real :class:`SystemAggregator` through a real
:class:`DataCollector` into the app's own artifact store, as two scoring servers would; the
API then answers them merged. No worker runs here (the runtime lists none), so CPU and memory
are None, which is what a minute without a sampled worker reads as."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from anyio.from_thread import start_blocking_portal

from shipyard.client.endpoints import system_answer
from shipyard.domain.endpoints import Deployment, DeploymentState
from shipyard.server.app import create_app
from shipyard.services.data_collection import DataCollector
from shipyard.services.monitoring.system import SystemAggregator
from shipyard.services.serving_ports import DeploymentKey, DeploymentPlan, DeploymentRuntime, Instance
from shipyard.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.integration.test_access_matrix import ADMIN, SyncClient

_PATH = "/api/v1/online-endpoints/credit/deployments/blue/system"


class NoWorkers(DeploymentRuntime):
    """A runtime with no local workers: minutes are written for the traffic counted only."""

    def apply(self, plan: DeploymentPlan) -> None:
        raise NotImplementedError

    def instances(self, key: DeploymentKey) -> list[Instance]:
        return []

    def wait_ready(self, key: DeploymentKey, timeout_s: float) -> list[Instance]:
        return []

    def remove(self, key: DeploymentKey, drain_s: float = 5.0) -> None:
        pass

    def logs(self, key: DeploymentKey, lines: int = 100) -> str:
        return ""

    def close(self) -> None:
        pass


@dataclass
class Harness:
    owner: SyncClient
    engineer: SyncClient
    """Holds only data-engineer, which lacks endpoints:read."""
    minute_ms: int
    """The start of the minute the test's oldest traffic fell in (three minutes ago)."""


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    home: Path = tmp_path_factory.mktemp("system-api")
    app = create_app(Settings(home=home, roles="api"))
    services = app.state.services
    services.identity.create_user(ADMIN, "eng")
    services.identity.assign(ADMIN, "eng", "data-engineer", "*")
    engineer_token = services.identity.create_token(ADMIN, "t", user="eng").secret
    now_minute = int(time.time()) // 60 * 60
    first = now_minute - 180  # three minutes ago: well inside the default hour
    # The API's "now" stays in this minute however long the tests take to get there.
    services.deployment_system.clock = lambda: now_minute + 30.0
    with start_blocking_portal() as portal:
        clients = [
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://127.0.0.1",
                headers={"Authorization": f"Bearer {token}"},
            )
            for token in (ADMIN_TOKEN, engineer_token)
        ]
        owner, engineer = (SyncClient(portal, c) for c in clients)
        made = owner.request("POST", "/api/v1/online-endpoints", json={"spec": {"name": "credit"}})
        assert made.status_code == 201, made.text
        deployment = Deployment(
            "credit", "blue", "default", DeploymentState.SUCCEEDED, "", "r1", {}, {}, 1, "admin", 1
        )
        with app.state.database.write() as uow:  # as the API stored it; nothing runs here
            uow.deployments.create("default", deployment)
        _write_minutes(app.state.artifact_store, first)
        try:
            yield Harness(owner, engineer, first * 1000)
        finally:
            for client in clients:
                portal.call(client.aclose)
            services.audit.stop()


def _write_minutes(store: object, first: int) -> None:
    """Two scoring servers count the same minutes; a minute later each closes them."""
    collector = DataCollector(store, flush_s=60)  # type: ignore[arg-type]
    collector.start()
    clock = Clock(first)
    servers = [SystemAggregator(collector, NoWorkers(), clock=clock) for _ in range(2)]
    for _ in range(40):
        servers[0].observe("default", "credit", "blue", 200, 0.015)  # [10, 25) ms
    for _ in range(9):
        servers[1].observe("default", "credit", "blue", 200, 0.015)
    servers[1].observe("default", "credit", "blue", 503, 0.3)  # [250, 500) ms
    clock.now = first + 120  # the minute after next: the one between has no row at all
    servers[0].observe("default", "credit", "blue", 200, 0.003)
    clock.now = first + 180
    for server in servers:
        server.flush()
    collector.stop()


def test_the_minutes_of_every_server_are_added_up_oldest_first(harness: Harness) -> None:
    answer = harness.owner.get(_PATH)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    found = system_answer(answer.json())  # the SDK's own decoding of the answer
    assert found.minute_ms == 60_000
    assert [m.at for m in found.minutes] == [harness.minute_ms, harness.minute_ms + 120_000]
    first, later = found.minutes
    assert (first.requests, first.errors) == (50, 1)
    assert first.latency_p50_ms is not None and 10 < first.latency_p50_ms < 25
    assert first.latency_p99_ms is not None and 250 <= first.latency_p99_ms <= 500
    assert first.cpu_percent is None and first.memory_mb is None  # no worker was sampled
    assert (later.requests, later.errors) == (1, 0)
    assert later.latency_p50_ms is not None and 2.5 <= later.latency_p50_ms < 5


def test_minutes_bounds_the_window(harness: Harness) -> None:
    recent = harness.owner.get(_PATH, params={"minutes": 2})  # this minute and the one before
    assert recent.status_code == 200, recent.text
    assert [m["at"] for m in recent.json()["minutes"]] == [harness.minute_ms + 120_000]
    assert harness.owner.get(_PATH, params={"minutes": 1}).json()["minutes"] == []
    assert len(harness.owner.get(_PATH, params={"minutes": 1440}).json()["minutes"]) == 2


@pytest.mark.parametrize("value", ["0", "1441", "-5", "an-hour"])
def test_a_bad_minutes_is_a_clear_client_error(harness: Harness, value: str) -> None:
    answer = harness.owner.get(_PATH, params={"minutes": value})
    assert answer.status_code in (400, 422), answer.text
    assert "minutes" in answer.text


def test_an_unknown_endpoint_or_deployment_is_a_404_that_names_it(harness: Harness) -> None:
    no_endpoint = harness.owner.get("/api/v1/online-endpoints/nope/deployments/blue/system")
    assert no_endpoint.status_code == 404
    assert no_endpoint.json()["error"]["code"] == "NOT_FOUND" and "nope" in no_endpoint.text
    no_deployment = harness.owner.get("/api/v1/online-endpoints/credit/deployments/green/system")
    assert no_deployment.status_code == 404 and "green" in no_deployment.text


def test_a_role_without_endpoints_read_is_refused(harness: Harness) -> None:
    refused = harness.engineer.get(_PATH)
    assert refused.status_code == 403
    assert "endpoints:read" in refused.text
