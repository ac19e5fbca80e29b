"""Lineage through the API, in-process (auth on, SQLite): a small world made straight in the
stores — a data asset version, the job that read it and its run, the data it wrote, a model
version from that run (and one whose run this server never saw), a deployment serving it, a
monitor of that deployment, the monitor's run and the retraining job it started."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from anyio.from_thread import start_blocking_portal

from shipyard.domain.access import EVERYTHING
from shipyard.domain.batch_endpoints import BatchDeployment, BatchEndpoint
from shipyard.domain.context import Principal, RequestContext
from shipyard.domain.data_assets import DataAsset
from shipyard.domain.endpoints import AuthMode, Deployment, DeploymentState, Endpoint
from shipyard.domain.jobs import Job, JobStatus
from shipyard.domain.lineage import Graph, parse_node_id, to_mermaid
from shipyard.domain.registry import ModelVersion
from shipyard.domain.schedule_ticks import Trigger
from shipyard.domain.schedules import Schedule
from shipyard.errors import InvalidArgument
from shipyard.server.app import create_app
from shipyard.services.schedule_ports import SCHEDULES
from shipyard.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.integration.studio.conftest import Studio

ADMIN = RequestContext(Principal("admin", authenticated=True, grants=EVERYTHING))
NOW = 1_700_000_000_000
COMMIT = "5287272aa1b2c3d4e5f60718293a4b5c6d7e8f90"


def _job(name: str, run_id: str, *, spec: dict[str, Any], type_: str = "command", **more: Any) -> Job:
    return Job(
        name=name, workspace="default", display_name=name, experiment_id="0", run_id=run_id,
        status=JobStatus.COMPLETED, compute="local", command="python train.py", spec=spec,
        code_digest="sha256:c0de", environment_hash="e4f1", timeout_s=None, created_at=NOW,
        created_by="admin", updated_at=NOW, type=type_, **more,
    )  # fmt: skip


def _version(name: str, version: int, run_id: str | None) -> ModelVersion:
    return ModelVersion(
        name=name, version=version, source=f"runs:/{run_id}/model", run_id=run_id, experiment_id=None,
        artifact_path="model", code_version=None, description="", status="READY", tags={}, aliases=[],
        created_at=NOW, created_by="admin", updated_at=NOW, updated_by="admin",
    )  # fmt: skip


def _asset(name: str, version: str, tags: dict[str, str] | None = None) -> DataAsset:
    return DataAsset(
        name=name, version=version, type="uri_file", path=f"{name}.csv", description="",
        content_hash="sha256:da7a", size=10, file_count=1, workspace="default", created_at=NOW - 1000,
        created_by="admin", tags=tags or {},
    )  # fmt: skip


def make_world(app: Any, p: str = "") -> dict[str, str]:
    """The world above, every name prefixed with ``p``; returns the run ids."""
    tracking = app.state.services.tracking
    experiment = tracking.create_experiment(ADMIN, f"{p}credit-train")
    train = tracking.create_run(
        ADMIN, experiment.id, name="train",
        tags={"shipyard.job.name": f"{p}train-1", "mlflow.source.git.commit": COMMIT},
    )  # fmt: skip
    retrain = tracking.create_run(
        ADMIN, experiment.id, name="retrain",
        tags={"shipyard.job.name": f"{p}retrain-1", "shipyard.monitor": f"{p}credit-drift",
              "shipyard.monitor.job": f"{p}credit-drift-run-1"},
    )  # fmt: skip
    monitor_run = tracking.create_run(ADMIN, experiment.id, name="monitor")
    registry = app.state.services.registry
    registry.create_model(ADMIN, f"{p}credit")
    pk = int(experiment.id)
    data_input = {"data": {"kind": "data", "value": f"{p}credit-data:1", "type": "uri_file"}}
    with app.state.database.write() as uow:
        ws = uow.workspaces.ensure("default", "admin", NOW)
        uow.data_assets.create(ws, _asset(f"{p}credit-data", "1"))
        uow.data_assets.create(ws, _asset(f"{p}scores", "1", {"shipyard.job.name": f"{p}train-1"}))
        uow.jobs.create(ws, pk, _job(f"{p}train-1", train.id, spec={
            "inputs": data_input, "outputs": {"scores": {"type": "uri_folder", "name": f"{p}scores"}}}))  # fmt: skip
        uow.jobs.create(ws, pk, _job(f"{p}retrain-1", retrain.id, spec={"inputs": data_input}))
        uow.jobs.create(ws, pk, _job(f"{p}credit-drift-run-1", monitor_run.id, type_="monitor", leaf=False, spec={
            "monitor_name": f"{p}credit-drift"}, report={"actions": [{"signal": "drift", "job": f"{p}retrain-1"}]}))  # fmt: skip
        model_id = uow.models.model_id("default", f"{p}credit")
        uow.models.create_version(model_id, _version(f"{p}credit", 1, train.id), "admin", NOW)
        uow.models.create_version(
            model_id, _version(f"{p}credit", 2, "0123456789abcdef0123456789abcdef"), "admin", NOW
        )
        uow.endpoints.create(ws, Endpoint(
            name=f"{p}credit", workspace="default", auth_mode=AuthMode("key"), description="", tags={},
            traffic={"blue": 100}, mirror_traffic={}, primary_key="k1", secondary_key="k2",
            created_at=NOW, created_by="admin", updated_at=NOW))  # fmt: skip
        uow.deployments.create("default", Deployment(
            endpoint=f"{p}credit", name="blue", workspace="default", state=DeploymentState.SUCCEEDED, reason="",
            revision="1", spec={}, model={"name": f"{p}credit", "version": 1}, created_at=NOW,
            created_by="admin", updated_at=NOW))  # fmt: skip
        uow.batch_endpoints.create(ws, BatchEndpoint(
            name=f"{p}credit-batch", workspace="default", description="", tags={}, default_deployment=None,
            created_at=NOW, created_by="admin", updated_at=NOW))  # fmt: skip
        uow.batch_deployments.create("default", BatchDeployment(
            endpoint=f"{p}credit-batch", name="nightly", workspace="default", spec={},
            model={"name": f"{p}credit", "version": 1}, created_at=NOW, created_by="admin", updated_at=NOW))  # fmt: skip
        uow.jobs.create(ws, pk, _job(f"{p}sweep-1", "", type_="sweep", leaf=False, spec={}))
        uow.jobs.create(ws, pk, _job(f"{p}sweep-1-trial-0", "", spec={"inputs": data_input}, parent=f"{p}sweep-1",
                                     step="trial_0"))  # fmt: skip
        monitor = {"monitor": {"create_monitor": {"monitoring_target": {
            "endpoint_deployment_id": f"azureml:{p}credit:blue"}}}}  # fmt: skip
        uow[SCHEDULES].create(ws, Schedule(
            name=f"{p}credit-drift", workspace="default", display_name=f"{p}credit-drift", description="", tags={},
            trigger=Trigger("cron", NOW, "UTC", None, None, expression="0 * * * *"), catch_up=False,
            enabled=True, job={"spec": monitor}, job_type="monitor", created_at=NOW, created_by="admin",
            updated_at=NOW, cursor=NOW))  # fmt: skip
    return {"train": train.id, "retrain": retrain.id}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Studio, dict[str, str]]]:
    app = create_app(Settings(home=tmp_path_factory.mktemp("lineage"), roles="api"))
    runs = make_world(app)
    with start_blocking_portal() as portal:
        made = Studio(app, portal, ADMIN_TOKEN, None, None, tmp_path_factory.mktemp("x"))  # type: ignore[arg-type]
        made.owner = made.client({"Authorization": f"Bearer {ADMIN_TOKEN}"})
        try:
            yield made, runs
        finally:
            for client in made._clients:
                portal.call(client.aclose)
    app.state.services.audit.stop()
    app.state.database.close()


def _graph(studio: Studio, node: str, **params: Any) -> Graph:
    answer = studio.owner.get("/api/v1/lineage", params={"node": node, **params})
    assert answer.status_code == 200, answer.text
    return Graph.from_json(answer.json())


def _edges(graph: Graph) -> set[tuple[str, str, str]]:
    return {(e.source, e.relation, e.target) for e in graph.edges}


def test_a_model_version_is_linked_from_its_data_to_the_retraining_its_monitor_started(world: Any) -> None:
    studio, runs = world
    graph = _graph(studio, "model:credit:1")
    train = f"run:{runs['train']}"
    assert graph.root == "model:credit:1"
    assert {
        ("data:credit-data:1", "input", "job:train-1"),
        ("job:train-1", "ran", train),
        (train, "registered", "model:credit:1"),
        ("model:credit:1", "deployed", "deployment:credit/blue"),
        ("deployment:credit/blue", "monitors", "monitor:credit-drift"),
        ("monitor:credit-drift", "started", "job:retrain-1"),
        ("job:retrain-1", "ran", f"run:{runs['retrain']}"),
    } <= _edges(graph)
    job = graph.node("job:train-1")
    assert job is not None
    assert job.attrs["code_digest"] == "sha256:c0de"
    assert job.attrs["environment_hash"] == "e4f1"
    assert job.attrs["git_commit"] == COMMIT
    assert not any(n.unresolved for n in graph.nodes)
    # Upstream from the model does not turn back down into the job's other output.
    assert graph.node("data:scores:1") is None


def test_a_job_links_to_the_data_it_wrote_and_a_data_version_to_every_job_that_read_it(world: Any) -> None:
    studio, runs = world
    job = _graph(studio, "job:train-1", direction="downstream", depth=1)
    assert ("job:train-1", "output", "data:scores:1") in _edges(job)
    assert {n.id for n in job.nodes} == {"job:train-1", "data:scores:1", f"run:{runs['train']}"}
    data = _graph(studio, "data:credit-data:1", direction="downstream", depth=1)
    # A sweep's trial (a child job) is found too.
    assert {e.target for e in data.edges} == {"job:train-1", "job:retrain-1", "job:sweep-1-trial-0"}
    scores = _graph(studio, "data:scores:1", direction="upstream", depth=1)
    assert _edges(scores) == {("job:train-1", "output", "data:scores:1")}


def test_direction_and_depth_bound_the_walk(world: Any) -> None:
    studio, runs = world
    up = _graph(studio, "model:credit:1", direction="upstream")
    assert {n.kind for n in up.nodes} == {"model", "run", "job", "data"}
    served = {"deployment:credit/blue", "batch-deployment:credit-batch/nightly"}
    down = _graph(studio, "model:credit:1", direction="downstream", depth=1)
    assert {n.id for n in down.nodes} == {"model:credit:1", *served}
    near = _graph(studio, "model:credit:1", depth=1)
    assert {n.id for n in near.nodes} == {"model:credit:1", f"run:{runs['train']}", *served}


def test_a_retraining_job_leads_back_to_its_monitor(world: Any) -> None:
    studio, _ = world
    graph = _graph(studio, "job:retrain-1", direction="upstream")
    assert ("monitor:credit-drift", "started", "job:retrain-1") in _edges(graph)
    assert ("deployment:credit/blue", "monitors", "monitor:credit-drift") in _edges(graph)


def test_a_run_this_server_does_not_hold_is_an_unresolved_node(world: Any) -> None:
    studio, _ = world
    graph = _graph(studio, "model:credit:2")
    run = graph.node("run:0123456789abcdef0123456789abcdef")
    assert run is not None and run.unresolved and run.attrs == {}
    assert ("run:0123456789abcdef0123456789abcdef", "registered", "model:credit:2") in _edges(graph)


@pytest.mark.parametrize(
    ("node", "needle"),
    [
        ("credit", "a lineage node is"),
        ("model:credit", "not a model node id"),
        ("model:credit:one", "not a model node id"),
        ("dataset:x:1", "unknown node kind 'dataset'"),
        ("deployment:credit", "not a deployment node id"),
        ("", "a lineage node is"),
    ],
)
def test_a_bad_node_id_is_a_400_naming_the_accepted_shapes(world: Any, node: str, needle: str) -> None:
    studio, _ = world
    answer = studio.owner.get("/api/v1/lineage", params={"node": node})
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "INVALID_ARGUMENT"
    assert needle in error["message"]
    if node:
        assert "model:NAME:VERSION" in error["message"]


@pytest.mark.parametrize(
    ("params", "needle"),
    [({"direction": "sideways"}, "direction is one of"), ({"depth": 0}, "depth must be"),
     ({"depth": 51}, "depth must be"), ({"depth": "two"}, "depth")],
)  # fmt: skip
def test_a_bad_direction_or_depth_is_a_400(world: Any, params: dict[str, Any], needle: str) -> None:
    studio, _ = world
    answer = studio.owner.get("/api/v1/lineage", params={"node": "model:credit:1", **params})
    assert answer.status_code == 400, answer.text
    assert needle in answer.json()["error"]["message"]


@pytest.mark.parametrize("node", ["model:credit:9", "model:nope:1", "job:nope", "run:nope", "monitor:nope",
                                  "deployment:credit/green", "data:credit-data:7"])  # fmt: skip
def test_an_unknown_node_is_a_404(world: Any, node: str) -> None:
    studio, _ = world
    answer = studio.owner.get("/api/v1/lineage", params={"node": node})
    assert answer.status_code == 404, answer.text
    assert answer.json()["error"]["code"] == "NOT_FOUND"


def test_a_schedule_that_is_not_a_monitor_is_not_a_monitor_node(world: Any) -> None:
    studio, _ = world
    assert studio.owner.get("/api/v1/lineage", params={"node": "job:credit-drift"}).status_code == 404


def test_a_caller_sees_only_the_kinds_they_may_read(world: Any) -> None:
    studio, runs = world
    # data-engineer: data, jobs and experiments, and models:read; no endpoints:read.
    engineer = studio.client_for("data-engineer")
    answer = engineer.get("/api/v1/lineage", params={"node": "model:credit:1"})
    assert answer.status_code == 200, answer.text
    graph = Graph.from_json(answer.json())
    kinds = {n.kind for n in graph.nodes}
    assert "deployment" not in kinds and "batch-deployment" not in kinds
    # Nor what lies only beyond the deployment: the monitor and the job it started.
    assert "monitor" not in kinds and graph.node("job:retrain-1") is None
    assert "credit/blue" not in answer.text and "credit-drift" not in answer.text
    assert graph.node(f"run:{runs['train']}") is not None
    # Asking for a node of a kind one may not read is refused, whether it exists or not.
    for node in ("deployment:credit/blue", "deployment:credit/none"):
        refused = engineer.get("/api/v1/lineage", params={"node": node})
        assert refused.status_code == 403, refused.text
        assert "endpoints:read" in refused.json()["error"]["message"]


def test_the_graph_renders_as_a_mermaid_flowchart(world: Any) -> None:
    studio, _ = world
    text = to_mermaid(_graph(studio, "model:credit:1"))
    assert text.startswith("flowchart LR\n")
    assert '[["model: credit:1"]]' in text
    assert "-->|deployed|" in text


def test_node_ids_round_trip() -> None:
    for text in (
        "data:a:1",
        "job:j",
        "run:abc",
        "model:m:3",
        "deployment:e/d",
        "batch-deployment:e/d",
        "monitor:m",
    ):
        assert str(parse_node_id(text)) == text
    with pytest.raises(InvalidArgument):
        parse_node_id(None)


def test_a_batch_deployment_serving_the_version_is_linked(world: Any) -> None:
    studio, _ = world
    graph = _graph(studio, "model:credit:1", direction="downstream", depth=1)
    assert ("model:credit:1", "deployed", "batch-deployment:credit-batch/nightly") in _edges(graph)
    up = _graph(studio, "batch-deployment:credit-batch/nightly", direction="upstream", depth=1)
    assert _edges(up) == {("model:credit:1", "deployed", "batch-deployment:credit-batch/nightly")}


def test_a_composite_job_links_to_its_trials_and_a_trial_to_its_parent(world: Any) -> None:
    studio, _ = world
    down = _graph(studio, "job:sweep-1", direction="downstream", depth=1)
    assert _edges(down) == {("job:sweep-1", "step", "job:sweep-1-trial-0")}
    up = _graph(studio, "job:sweep-1-trial-0", direction="upstream", depth=1)
    assert _edges(up) == {
        ("job:sweep-1", "step", "job:sweep-1-trial-0"),
        ("data:credit-data:1", "input", "job:sweep-1-trial-0"),
    }
