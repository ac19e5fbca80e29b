"""The real ``mlflow`` client against Shipyard: what it writes, then the same objects seen
through ``/api/v1`` and the ``shipyard`` CLI — one store, two faces."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import mlflow
import pytest
import requests
from mlflow import MlflowClient
from mlflow.entities import Metric, RunTag, ViewType
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

from tests.conftest import ADMIN_TOKEN, AUTH, ServerProcess

pytestmark = pytest.mark.slow


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def native(server: ServerProcess, path: str) -> Any:
    response = httpx.get(f"{server.url}/api/v1{path}", timeout=30, headers=AUTH)
    assert response.status_code == 200, response.text
    return response.json()


def cli_run_show(server: ServerProcess, run_id: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "shipyard", "run", "show", run_id, "--output", "json"],
        capture_output=True,
        text=True,
        env={"SHIPYARD_URL": server.url, "SHIPYARD_TOKEN": ADMIN_TOKEN, "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_nested_runs_params_metrics_and_tags_are_one_store(mlflow_server: ServerProcess) -> None:
    name = unique("train")
    experiment = mlflow.set_experiment(name)
    with mlflow.start_run(run_name="parent") as parent:
        mlflow.log_param("lr", 0.01)
        mlflow.log_params({"depth": 3, "optimizer": "adam"})
        for step in range(3):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({"acc": 0.9, "f1": 0.8}, step=5)
        mlflow.set_tag("team", "vision")
        with mlflow.start_run(run_name="child", nested=True) as child:
            mlflow.log_metric("inner", 7.0)

    client = MlflowClient()
    got = client.get_run(parent.info.run_id)
    assert got.info.experiment_id == experiment.experiment_id
    assert got.info.status == "FINISHED" and got.info.end_time is not None
    assert got.info.run_name == "parent"
    assert got.info.artifact_uri.startswith("mlflow-artifacts:/")
    assert got.data.params == {"lr": "0.01", "depth": "3", "optimizer": "adam"}
    assert got.data.metrics == {"loss": pytest.approx(1 / 3), "acc": 0.9, "f1": 0.8}
    assert got.data.tags["team"] == "vision"
    assert got.data.tags["mlflow.runName"] == "parent"
    kid = client.get_run(child.info.run_id)
    assert kid.data.tags["mlflow.parentRunId"] == parent.info.run_id
    history = client.get_metric_history(parent.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 1.0), (1, 0.5), (2, pytest.approx(1 / 3))]

    # The same run through the native API and the CLI.
    seen = native(mlflow_server, f"/runs/{parent.info.run_id}")
    assert seen["name"] == "parent" and seen["status"] == "FINISHED"
    assert seen["params"] == got.data.params
    assert seen["metrics"]["loss"]["count"] == 3
    assert seen["tags"]["team"] == "vision"
    assert native(mlflow_server, f"/runs/{child.info.run_id}")["parent_run_id"] == parent.info.run_id
    assert native(mlflow_server, f"/experiments/{experiment.experiment_id}")["name"] == name
    shown = cli_run_show(mlflow_server, parent.info.run_id)
    assert shown["id"] == parent.info.run_id
    assert shown["params"]["lr"] == "0.01"


def test_runs_without_an_experiment_land_in_default(mlflow_server: ServerProcess) -> None:
    with mlflow.start_run() as run:
        mlflow.log_param("where", "default")
    experiment = MlflowClient().get_experiment("0")
    assert experiment.name == "Default"
    assert run.info.experiment_id == experiment.experiment_id
    assert native(mlflow_server, f"/experiments/{run.info.experiment_id}")["name"] == "Default"


def test_param_relogged_with_another_value_is_refused(mlflow_server: ServerProcess) -> None:
    mlflow.set_experiment(unique("params"))
    with mlflow.start_run():
        mlflow.log_param("depth", 3)
        mlflow.log_param("depth", 3)  # the same value again is fine
        with pytest.raises(mlflow.MlflowException) as caught:
            mlflow.log_param("depth", 5)
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "depth" in caught.value.message


def test_artifacts_through_the_proxied_service(mlflow_server: ServerProcess, tmp_path: Path) -> None:
    mlflow.set_experiment(unique("artifacts"))
    (tmp_path / "notes.txt").write_text("hello")
    folder = tmp_path / "plots"
    folder.mkdir()
    (folder / "a.csv").write_text("x,y\n1,2\n")
    (folder / "b.csv").write_text("x,y\n3,4\n")
    with mlflow.start_run() as run:
        mlflow.log_dict({"k": [1, 2]}, "config/settings.json")
        mlflow.log_artifact(str(tmp_path / "notes.txt"))
        mlflow.log_artifacts(str(folder), artifact_path="plots")
    root = run.info.artifact_uri
    listed = {(f.path, f.is_dir, f.file_size) for f in MlflowClient().list_artifacts(run.info.run_id)}
    assert listed == {("config", True, None), ("notes.txt", False, 5), ("plots", True, None)}
    inner = mlflow.artifacts.list_artifacts(artifact_uri=f"{root}/plots")
    assert sorted(f.path for f in inner) == ["plots/a.csv", "plots/b.csv"]
    assert mlflow.artifacts.load_dict(f"{root}/config/settings.json") == {"k": [1, 2]}
    local = mlflow.artifacts.download_artifacts(artifact_uri=f"{root}/plots", dst_path=str(tmp_path / "out"))
    assert (Path(local) / "b.csv").read_text() == "x,y\n3,4\n"

    # /api/v1 lists what the mlflow client uploaded, with sizes and hashes.
    files = native(mlflow_server, f"/runs/{run.info.run_id}/artifacts?path=plots")["files"]
    assert [(f["path"], f["size"]) for f in files] == [("plots/a.csv", 8), ("plots/b.csv", 8)]
    assert all(len(f["sha256"]) == 64 for f in files)

    # Deleting through the proxied service removes the file and its index entry.
    key = root.removeprefix("mlflow-artifacts:/")
    response = httpx.delete(
        f"{mlflow_server.url}/api/2.0/mlflow-artifacts/artifacts/{key}/plots/a.csv", headers=AUTH
    )
    assert response.status_code == 200, response.text
    files = native(mlflow_server, f"/runs/{run.info.run_id}/artifacts?path=plots")["files"]
    assert [f["path"] for f in files] == ["plots/b.csv"]


def test_log_input_records_the_dataset(mlflow_server: ServerProcess) -> None:
    import pandas as pd

    mlflow.set_experiment(unique("inputs"))
    frame = pd.DataFrame({"a": [1, 2, 3], "b": [0, 1, 0]})
    dataset = mlflow.data.from_pandas(frame, name="tiny", targets="b")
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="training")
        mlflow.log_input(dataset, context="training")  # the same input twice is stored once
    inputs = MlflowClient().get_run(run.info.run_id).inputs.dataset_inputs
    assert len(inputs) == 1
    assert inputs[0].dataset.name == "tiny"
    assert inputs[0].dataset.digest == dataset.digest
    assert json.loads(inputs[0].dataset.profile)["num_rows"] == 3
    assert {t.key: t.value for t in inputs[0].tags} == {"mlflow.data.context": "training"}
    found = mlflow.search_runs(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"datasets.name = 'tiny' AND datasets.digest IN ('{dataset.digest}', 'other')",
        output_format="list",
    )
    assert [r.info.run_id for r in found] == [run.info.run_id]
    assert (
        mlflow.search_runs(
            experiment_ids=[run.info.experiment_id],
            filter_string="datasets.name = 'other'",
            output_format="list",
        )
        == []
    )


def test_sklearn_autolog(mlflow_server: ServerProcess) -> None:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    mlflow.set_experiment(unique("autolog"))
    # Models are the registry's part (logged models); this test is about tracking.
    mlflow.sklearn.autolog(log_models=False, log_datasets=True)
    try:
        features, target = load_iris(return_X_y=True)
        with mlflow.start_run() as run:
            LogisticRegression(max_iter=300).fit(features, target)
    finally:
        mlflow.sklearn.autolog(disable=True)
    got = MlflowClient().get_run(run.info.run_id)
    assert got.data.params["max_iter"] == "300"
    assert got.data.metrics["training_accuracy_score"] > 0.9
    assert {"training_log_loss", "training_roc_auc", "training_f1_score"} <= set(got.data.metrics)
    assert got.data.tags["estimator_name"] == "LogisticRegression"
    assert got.inputs.dataset_inputs, "autolog logs the training data as an input"
    names = {f.path for f in MlflowClient().list_artifacts(run.info.run_id)}
    assert "estimator.html" in names
    seen = native(mlflow_server, f"/runs/{run.info.run_id}")
    assert seen["metrics"]["training_accuracy_score"]["value"] > 0.9


def test_search_runs_filters_order_and_pages(mlflow_server: ServerProcess) -> None:
    experiment = mlflow.set_experiment(unique("search"))
    for i in range(5):
        with mlflow.start_run(run_name=f"r{i}"):
            mlflow.log_metric("acc", i / 10)
            mlflow.log_param("kind", "even" if i % 2 == 0 else "odd")
            mlflow.set_tag("batch", "b1")

    frame = mlflow.search_runs(
        experiment_names=[experiment.name],
        filter_string="metrics.acc >= 0.2 AND params.kind = 'even'",
        order_by=["metrics.acc DESC"],
    )
    assert list(frame["tags.mlflow.runName"]) == ["r4", "r2"]
    assert list(frame["metrics.acc"]) == [0.4, 0.2]

    runs = mlflow.search_runs(
        experiment_ids=[experiment.experiment_id],
        filter_string="tags.mlflow.runName = 'r3'",
        output_format="list",
    )
    assert [r.info.run_name for r in runs] == ["r3"]
    by_name = mlflow.search_runs(
        experiment_ids=[experiment.experiment_id],
        filter_string="attributes.run_name LIKE 'r%' AND tags.batch = 'b1' AND status = 'FINISHED'",
        order_by=["attributes.run_name ASC"],
        output_format="list",
    )
    assert [r.info.run_name for r in by_name] == ["r0", "r1", "r2", "r3", "r4"]

    client = MlflowClient()
    first = client.search_runs([experiment.experiment_id], order_by=["metrics.acc ASC"], max_results=2)
    assert [r.data.metrics["acc"] for r in first] == [0.0, 0.1]
    assert first.token
    second = client.search_runs(
        [experiment.experiment_id], order_by=["metrics.acc ASC"], max_results=2, page_token=first.token
    )
    assert [r.data.metrics["acc"] for r in second] == [0.2, 0.3]


def test_metric_history_past_one_page(mlflow_server: ServerProcess) -> None:
    mlflow.set_experiment(unique("history"))
    client = MlflowClient()
    total = 25_000 + 1_234
    with mlflow.start_run() as run:
        for start in range(0, total, 1000):
            client.log_batch(
                run.info.run_id,
                metrics=[
                    Metric("curve", step * 0.5, 1_700_000_000_000 + step, step)
                    for step in range(start, min(start + 1000, total))
                ],
            )
    history = client.get_metric_history(run.info.run_id, "curve")
    assert len(history) == total
    assert [m.step for m in history] == list(range(total))
    assert history[-1].value == (total - 1) * 0.5
    assert native(mlflow_server, f"/runs/{run.info.run_id}")["metrics"]["curve"]["count"] == total


def test_delete_and_restore_runs_and_experiments(mlflow_server: ServerProcess) -> None:
    client = MlflowClient()
    experiment_id = client.create_experiment(unique("lifecycle"), tags={"owner": "qa"})
    run = client.create_run(experiment_id, run_name="doomed")
    client.set_terminated(run.info.run_id)

    client.delete_run(run.info.run_id)
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    assert client.search_runs([experiment_id]) == []
    deleted = client.search_runs([experiment_id], run_view_type=ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [run.info.run_id]
    assert native(mlflow_server, f"/runs/{run.info.run_id}")["lifecycle_stage"] == "deleted"
    client.restore_run(run.info.run_id)
    assert [r.info.run_id for r in client.search_runs([experiment_id])] == [run.info.run_id]

    # As on MLflow's server, an experiment's runs are deleted and restored with it.
    client.delete_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "deleted"
    assert native(mlflow_server, f"/experiments/{experiment_id}")["lifecycle_stage"] == "deleted"
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    with pytest.raises(mlflow.MlflowException):
        client.create_run(experiment_id)
    client.restore_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "active"
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "active"


def test_experiment_search_rename_and_tags(mlflow_server: ServerProcess) -> None:
    client = MlflowClient()
    prefix = unique("catalog")
    ids = [client.create_experiment(f"{prefix}-{i}", tags={"parity": str(i % 2)}) for i in range(3)]
    client.set_experiment_tag(ids[0], "stage", "dev")
    client.rename_experiment(ids[2], f"{prefix}-renamed")

    found = client.search_experiments(filter_string=f"name LIKE '{prefix}%'", order_by=["name ASC"])
    assert [e.name for e in found] == [f"{prefix}-0", f"{prefix}-1", f"{prefix}-renamed"]
    tagged = client.search_experiments(filter_string=f"name LIKE '{prefix}%' AND tags.parity = '0'")
    assert {e.experiment_id for e in tagged} == {ids[0], ids[2]}
    assert client.get_experiment(ids[0]).tags == {"parity": "0", "stage": "dev"}
    client.delete_experiment_tag(ids[0], "stage")
    assert "stage" not in client.get_experiment(ids[0]).tags
    assert client.get_experiment_by_name(f"{prefix}-renamed").experiment_id == ids[2]
    assert client.get_experiment_by_name(f"{prefix}-2") is None
    page = client.search_experiments(filter_string=f"name LIKE '{prefix}%'", max_results=2)
    assert len(page) == 2 and page.token
    rest = client.search_experiments(
        filter_string=f"name LIKE '{prefix}%'", max_results=2, page_token=page.token
    )
    assert len(rest) == 1
    assert native(mlflow_server, f"/experiments/{ids[2]}")["name"] == f"{prefix}-renamed"


def test_non_finite_metrics_round_trip(mlflow_server: ServerProcess) -> None:
    mlflow.set_experiment(unique("nan"))
    with mlflow.start_run() as run:
        mlflow.log_metrics({"nan": float("nan"), "up": float("inf"), "down": float("-inf")})
    got = MlflowClient().get_run(run.info.run_id).data.metrics
    assert got["nan"] != got["nan"]
    assert got["up"] == float("inf") and got["down"] == float("-inf")
    history = MlflowClient().get_metric_history(run.info.run_id, "nan")
    assert len(history) == 1 and history[0].value != history[0].value


def test_history_bulk_interval_for_charts(mlflow_server: ServerProcess) -> None:
    mlflow.set_experiment(unique("interval"))
    client = MlflowClient()
    ids = []
    for _ in range(2):
        with mlflow.start_run() as run:
            client.log_batch(
                run.info.run_id,
                metrics=[Metric("loss", 1.0 / (s + 1), 1_700_000_000_000, s) for s in range(100)],
            )
        ids.append(run.info.run_id)
    response = httpx.get(
        f"{mlflow_server.url}/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval",
        params={"run_ids": ids, "metric_key": "loss", "start_step": 10, "end_step": 59, "max_results": 10},
        headers=AUTH,
    )
    assert response.status_code == 200, response.text
    metrics = response.json()["metrics"]
    for run_id in ids:
        steps = [m["step"] for m in metrics if m["run_id"] == run_id]
        assert 2 <= len(steps) <= 10
        assert steps == sorted(steps) and steps[0] == 10 and steps[-1] == 59


def test_logged_model_files_through_the_proxied_service(mlflow_server: ServerProcess) -> None:
    """Logged models (MLflow 3) keep their files under <experiment>/models/<id>/artifacts."""
    experiment_id = MlflowClient().create_experiment(unique("model-files"))
    model = MlflowClient().create_logged_model(experiment_id, name="files")
    root = model.artifact_location.removeprefix("mlflow-artifacts:/")
    base = f"{mlflow_server.url}/api/2.0/mlflow-artifacts/artifacts/{root}"
    for name, data in [("MLmodel", b"flavors: {}\n"), ("model/weights.bin", b"\x00\x01\x02")]:
        assert httpx.put(f"{base}/{name}", content=data, headers=AUTH).status_code == 200
    listing = httpx.get(
        f"{mlflow_server.url}/api/2.0/mlflow-artifacts/artifacts", params={"path": root}, headers=AUTH
    ).json()
    assert listing["files"] == [
        {"path": "MLmodel", "is_dir": False, "file_size": 12},
        {"path": "model", "is_dir": True},
    ]
    assert httpx.get(f"{base}/model/weights.bin", headers=AUTH).content == b"\x00\x01\x02"
    assert httpx.delete(f"{base}/model", headers=AUTH).status_code == 200
    assert (
        httpx.get(f"{base}/model/weights.bin", headers=AUTH).json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    )


def test_logged_model_files_need_the_logged_model(mlflow_server: ServerProcess, tmp_path: Path) -> None:
    """Uploads under models/<id>/artifacts need that model, alive, in the experiment named."""
    client = MlflowClient()
    experiment_id = client.create_experiment(unique("model-owner"))
    other_experiment = client.create_experiment(unique("model-other"))
    model = client.create_logged_model(experiment_id, name="owned")
    doomed = client.create_logged_model(experiment_id, name="doomed")
    client.delete_logged_model(doomed.model_id)
    location = client.get_experiment(experiment_id).artifact_location.removeprefix("mlflow-artifacts:/")
    elsewhere = client.get_experiment(other_experiment).artifact_location.removeprefix("mlflow-artifacts:/")
    artifacts = f"{mlflow_server.url}/api/2.0/mlflow-artifacts/artifacts"

    def put(key: str) -> httpx.Response:
        return httpx.put(f"{artifacts}/{key}/weights.bin", content=b"\x00", timeout=30, headers=AUTH)

    for ghost in (f"m-{uuid.uuid4().hex}", doomed.model_id):
        response = put(f"{location}/models/{ghost}/artifacts")
        assert response.status_code == 404, response.text
        assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        assert ghost in response.json()["message"]
        listing = httpx.get(
            artifacts, params={"path": f"{location}/models/{ghost}/artifacts"}, timeout=30, headers=AUTH
        )
        assert listing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    # A real model, but named under another experiment than its own.
    response = put(f"{elsewhere}/models/{model.model_id}/artifacts")
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    # The model's own location takes the upload.
    assert put(f"{location}/models/{model.model_id}/artifacts").status_code == 200
    # The mlflow client's artifact repository gets the same answers.
    (tmp_path / "weights.bin").write_bytes(b"\x01")
    ghost_uri = f"mlflow-artifacts:/{location}/models/m-{uuid.uuid4().hex}/artifacts"
    with pytest.raises(requests.HTTPError) as caught:
        get_artifact_repository(ghost_uri).log_artifact(str(tmp_path / "weights.bin"))
    assert caught.value.response.status_code == 404
    assert "RESOURCE_DOES_NOT_EXIST" in caught.value.response.text
    client.log_model_artifact(model.model_id, str(tmp_path / "weights.bin"))
    assert [f.path for f in client.list_logged_model_artifacts(model.model_id)] == ["weights.bin"]
    # Nothing landed in either experiment but in the model's own folder.
    stored = [
        p
        for p in mlflow_server.home.rglob("weights.bin")
        if p.is_file() and {experiment_id, other_experiment} & set(p.parts)
    ]
    assert [p.parent.parent.name for p in stored] == [model.model_id]


def test_run_name_tag_renames_and_native_rename_shows(mlflow_server: ServerProcess) -> None:
    mlflow.set_experiment(unique("rename"))
    client = MlflowClient()
    with mlflow.start_run(run_name="first") as run:
        mlflow.set_tag("mlflow.runName", "second")
        mlflow.set_tag("scratch", "x")
    client.delete_tag(run.info.run_id, "scratch")
    got = client.get_run(run.info.run_id)
    assert got.info.run_name == "second" and got.data.tags["mlflow.runName"] == "second"
    assert "scratch" not in got.data.tags
    assert native(mlflow_server, f"/runs/{run.info.run_id}")["name"] == "second"
    client.log_batch(run.info.run_id, tags=[RunTag("mlflow.runName", "third")])
    assert client.get_run(run.info.run_id).info.run_name == "third"
    patched = httpx.patch(
        f"{mlflow_server.url}/api/v1/runs/{run.info.run_id}", json={"name": "fourth"}, headers=AUTH
    )
    assert patched.status_code == 200, patched.text
    assert client.get_run(run.info.run_id).data.tags["mlflow.runName"] == "fourth"
    resumed = mlflow.start_run(run_id=run.info.run_id)
    assert resumed.info.status == "RUNNING"
    mlflow.end_run()
    assert client.get_run(run.info.run_id).info.status == "FINISHED"


def test_run_outputs_and_server_info(mlflow_server: ServerProcess) -> None:
    mlflow.set_experiment(unique("outputs"))
    with mlflow.start_run() as run:
        pass
    model_id = f"m-{uuid.uuid4().hex}"
    response = httpx.post(
        f"{mlflow_server.url}/api/2.0/mlflow/runs/outputs",
        json={"run_id": run.info.run_id, "models": [{"model_id": model_id, "step": 3}]},
        headers=AUTH,
    )
    assert response.status_code == 200, response.text
    outputs = MlflowClient().get_run(run.info.run_id).outputs.model_outputs
    assert [(o.model_id, o.step) for o in outputs] == [(model_id, 3)]
    info = httpx.get(f"{mlflow_server.url}/api/3.0/mlflow/server-info", headers=AUTH).json()
    assert info["multipart_uploads_enabled"] is False and info["multipart_downloads_enabled"] is False
