"""The scoring router on its own: real worker processes (a small ASGI app on UNIX sockets,
standing in for model workers), the router's ASGI app served by uvicorn on a real port,
requests over HTTP. The runtime is a test double that lists those workers: the local
runtime has its own tests, and the end-to-end tests put the two together."""

from __future__ import annotations

import collections
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import uvicorn

from shipyard.domain.endpoints import AuthMode, DeploymentState, hash_key
from shipyard.server.scoring import ScoringRouter
from shipyard.server.scoring_metrics import ScoringMetrics
from shipyard.services.data_collection import DataCollector
from shipyard.services.endpoint_ports import DataCollection, DeploymentRoute, RoutingTable
from shipyard.services.serving_ports import (
    DeploymentKey,
    DeploymentPlan,
    DeploymentRuntime,
    Instance,
    InstanceState,
)
from shipyard.stores.artifacts.local import LocalArtifactStore

WORKER = textwrap.dedent(
    """
    import asyncio, sys, orjson, uvicorn
    NAME = sys.argv[2]

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = b""
        while True:
            m = await receive()
            body += m.get("body", b"")
            if not m.get("more_body"):
                break
        data = orjson.loads(body or b"{}")
        await asyncio.sleep(data.get("sleep", 0))
        out = orjson.dumps({"served_by": NAME, "echo": data.get("x")})
        await send({"type": "http.response.start", "status": data.get("status", 200),
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": out})

    uvicorn.run(app, uds=sys.argv[1], log_level="warning")
    """
)


class FakeRuntime(DeploymentRuntime):
    """Lists the workers a test started; the rest of the interface is not the router's business."""

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Two worker processes, 'blue' and 'green', each on its own socket."""
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    procs, addresses = [], {}
    for name in ("blue", "green"):
        sock = tmp_path / f"{name}.sock"
        procs.append(subprocess.Popen([sys.executable, str(script), str(sock), name]))
        addresses[name] = sock
    deadline = time.monotonic() + 20
    for name, sock in addresses.items():
        while not sock.exists():
            assert time.monotonic() < deadline, f"worker {name} did not start"
            time.sleep(0.05)
    yield {name: f"http+unix://{str(sock).replace('/', '%2F')}" for name, sock in addresses.items()}
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)


class RouterServer:
    def __init__(self, router: ScoringRouter) -> None:
        async def app(scope, receive, send):  # type: ignore[no-untyped-def]
            if scope["type"] == "lifespan":
                while True:
                    message = await receive()
                    if message["type"] == "lifespan.startup":
                        await send({"type": "lifespan.startup.complete"})
                    elif message["type"] == "lifespan.shutdown":
                        await router.close()
                        await send({"type": "lifespan.shutdown.complete"})
                        return
            scope = {**scope, "root_path": "/endpoints"} if scope["path"].startswith("/endpoints") else scope
            await router(scope, receive, send)

        self.port = _free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def _table(**overrides: object) -> RoutingTable:
    routes = {
        name: DeploymentRoute(
            DeploymentKey("default", "ep", name),
            DeploymentState.SUCCEEDED,
            request_timeout_ms=1000,
            max_concurrent_requests_per_instance=2,
            max_queue_wait_ms=100,
            data_collection=DataCollection(1.0, model_inputs=True, model_outputs=True),
        )
        for name in ("blue", "green")
    }
    values: dict[str, object] = {
        "workspace": "default",
        "endpoint": "ep",
        "auth_mode": AuthMode.KEY,
        "key_hashes": (hash_key("secret-key"),),
        "traffic": {"blue": 80, "green": 20},
        "mirror_traffic": {},
        "deployments": routes,
    }
    values.update(overrides)
    return RoutingTable(**values)  # type: ignore[arg-type]


@pytest.fixture
def setup(
    workers: dict[str, str], tmp_path: Path
) -> Iterator[tuple[str, dict[str, RoutingTable], DataCollector, ScoringMetrics]]:
    runtime = FakeRuntime()
    for name, address in workers.items():
        runtime.workers[DeploymentKey("default", "ep", name)] = [Instance(0, InstanceState.READY, address)]
    tables = {"ep": _table()}

    def routes(workspace: str, endpoint: str) -> RoutingTable:
        from shipyard.errors import NotFound

        if endpoint not in tables:
            raise NotFound(f"no endpoint {endpoint}")
        return tables[endpoint]

    collector = DataCollector(LocalArtifactStore(tmp_path / "artifacts"), flush_s=60)
    collector.start()
    metrics = ScoringMetrics()
    router = ScoringRouter(routes, runtime, metrics=metrics, collector=collector, max_body_bytes=1024)
    with RouterServer(router) as url:
        yield url, tables, collector, metrics
    collector.stop()


AUTH = {"Authorization": "Bearer secret-key"}


def test_traffic_is_split_by_weight_and_every_answer_names_its_deployment(setup) -> None:  # type: ignore[no-untyped-def]
    url, _tables, _collector, _metrics = setup
    served = collections.Counter()
    ids = set()
    with httpx.Client(base_url=url, headers=AUTH) as http:
        for i in range(400):
            r = http.post("/endpoints/ep/score", json={"x": i})
            assert r.status_code == 200
            assert r.headers["azureml-model-deployment"] == r.json()["served_by"]
            assert r.json()["echo"] == i
            served[r.headers["azureml-model-deployment"]] += 1
            ids.add(r.headers["x-request-id"])
    assert len(ids) == 400
    assert 0.70 < served["blue"] / 400 < 0.90, served


def test_the_deployment_header_targets_one_deployment_even_without_traffic(setup) -> None:  # type: ignore[no-untyped-def]
    url, tables, _c, _m = setup
    tables["ep"] = _table(traffic={"blue": 100, "green": 0})
    with httpx.Client(base_url=url, headers=AUTH) as http:
        r = http.post("/endpoints/ep/score", json={}, headers={"azureml-model-deployment": "green"})
        assert r.json()["served_by"] == "green"
        r = http.post("/endpoints/ep/score", json={}, headers={"azureml-model-deployment": "purple"})
        assert r.status_code == 404 and "purple" in r.json()["error"]["message"]


def test_bad_requests_get_clear_4xx(setup) -> None:  # type: ignore[no-untyped-def]
    url, tables, _c, _m = setup
    with httpx.Client(base_url=url) as http:
        assert http.post("/endpoints/ep/score", json={}).status_code == 401
        assert (
            http.post("/endpoints/ep/score", json={}, headers={"Authorization": "Bearer nope"}).status_code
            == 401
        )
        r = http.post("/endpoints/nope/score", json={}, headers=AUTH)
        assert r.status_code == 404 and "nope" in r.json()["error"]["message"]
        r = http.post("/endpoints/ep/score", content=b"x" * 2000, headers=AUTH)
        assert r.status_code == 413
        assert http.get("/endpoints/ep/score", headers=AUTH).status_code == 405
        assert http.post("/endpoints/ep/predict", json={}, headers=AUTH).status_code == 404
        # A worker's own answer (here a 400) is passed through with who served it.
        r = http.post(
            "/endpoints/ep/score", json={"status": 400}, headers={**AUTH, "azureml-model-deployment": "blue"}
        )
        assert r.status_code == 400 and r.headers["azureml-model-deployment"] == "blue"
    tables["ep"] = _table(traffic={})
    with httpx.Client(base_url=url, headers=AUTH) as http:
        r = http.post("/endpoints/ep/score", json={})
        assert r.status_code == 404 and "no traffic" in r.json()["error"]["message"]


def test_a_slow_model_times_out_with_408(setup) -> None:  # type: ignore[no-untyped-def]
    url, _t, _c, _m = setup
    with httpx.Client(base_url=url, headers=AUTH) as http:
        r = http.post("/endpoints/ep/score", json={"sleep": 2}, headers={"azureml-model-deployment": "blue"})
    assert r.status_code == 408 and "request_timeout_ms=1000" in r.json()["error"]["message"]


def test_more_requests_than_slots_get_429_after_the_queue_wait(setup) -> None:  # type: ignore[no-untyped-def]
    url, _t, _c, _m = setup

    def one(_: int) -> int:
        with httpx.Client(base_url=url, headers=AUTH, timeout=10) as http:
            return http.post(
                "/endpoints/ep/score", json={"sleep": 0.5}, headers={"azureml-model-deployment": "blue"}
            ).status_code

    with ThreadPoolExecutor(6) as pool:
        codes = collections.Counter(pool.map(one, range(6)))
    # blue has one worker with 2 slots; a queue wait of 100 ms cannot outlast a 500 ms request.
    assert codes[200] == 2 and codes[429] == 4, codes


def test_no_ready_worker_is_503(setup) -> None:  # type: ignore[no-untyped-def]
    url, tables, _c, _m = setup
    route = tables["ep"].deployments["blue"]
    missing = DeploymentRoute(DeploymentKey("default", "ep", "gone"), route.state)
    tables["ep"] = _table(deployments={**tables["ep"].deployments, "gone": missing}, traffic={"gone": 100})
    with httpx.Client(base_url=url, headers=AUTH) as http:
        r = http.post("/endpoints/ep/score", json={})
    assert r.status_code == 503 and "no ready worker" in r.json()["error"]["message"]


def test_mirror_copies_reach_the_shadow_and_are_measured(setup) -> None:  # type: ignore[no-untyped-def]
    url, tables, _c, metrics = setup
    tables["ep"] = _table(traffic={"blue": 100, "green": 0}, mirror_traffic={"green": 50})
    with httpx.Client(base_url=url, headers=AUTH) as http:
        for _ in range(100):
            assert http.post("/endpoints/ep/score", json={}).headers["azureml-model-deployment"] == "blue"
    time.sleep(0.5)
    text = metrics.render().decode()
    mirrored = [
        line for line in text.splitlines()
        if line.startswith("shipyard_endpoint_requests_total{") and 'deployment="green"' in line and 'mirror="true"' in line
    ]  # fmt: skip
    assert mirrored, text
    count = float(mirrored[0].rsplit(" ", 1)[1])
    assert 25 <= count <= 75


def test_collected_inputs_and_outputs_land_as_parquet_with_the_request_id(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import pyarrow.parquet as pq

    url, _t, collector, _m = setup
    with httpx.Client(base_url=url, headers=AUTH) as http:
        ids = {http.post("/endpoints/ep/score", json={"x": i}).headers["x-request-id"] for i in range(20)}
    collector.flush()
    files = sorted((tmp_path / "artifacts" / "_collected" / "default" / "ep").rglob("*.parquet"))
    inputs = [f for f in files if "/model_inputs/" in f.as_posix()]
    outputs = [f for f in files if "/model_outputs/" in f.as_posix()]
    assert inputs and outputs
    rows = [r for f in inputs for r in pq.read_table(f).to_pylist()]
    assert {r["request_id"] for r in rows} == ids
    assert all(r["data"].startswith("{") and r["timestamp"] > 0 for r in rows)
    # Hour folders: .../model_inputs/yyyy/mm/dd/hh/part-….parquet
    assert len(inputs[0].relative_to(tmp_path / "artifacts").parts) == 10


def test_metrics_count_requests_errors_and_latency(setup) -> None:  # type: ignore[no-untyped-def]
    url, _t, _c, metrics = setup
    with httpx.Client(base_url=url, headers=AUTH) as http:
        for _ in range(5):
            http.post("/endpoints/ep/score", json={}, headers={"azureml-model-deployment": "blue"})
        http.post("/endpoints/ep/score", json={"status": 500}, headers={"azureml-model-deployment": "blue"})
    text = metrics.render().decode()
    assert (
        'shipyard_endpoint_requests_total{deployment="blue",endpoint="ep",mirror="false",status="200"} 5.0'
        in text
    )
    assert (
        'shipyard_endpoint_errors_total{deployment="blue",endpoint="ep",mirror="false",status="500"} 1.0'
        in text
    )
    assert (
        'shipyard_endpoint_request_duration_seconds_count{deployment="blue",endpoint="ep",mirror="false"} 6.0'
        in text
    )
