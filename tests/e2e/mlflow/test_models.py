"""MLflow 3 logged models and ``models:/`` URIs: the real client logs a scikit-learn model,
registers it, and loads it back by version, alias and model id — then ``/api/v1`` and the
CLI show what it registered."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import uuid
import warnings
from pathlib import Path
from typing import Any

import httpx
import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException
from sklearn.linear_model import LogisticRegression

from tests.conftest import ADMIN_TOKEN, AUTH, ServerProcess

pytestmark = pytest.mark.slow


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def cli_model_show(server: ServerProcess, name: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "shipyard", "model", "show", name, "--output", "json"],
        capture_output=True,
        text=True,
        env={"SHIPYARD_URL": server.url, "SHIPYARD_TOKEN": ADMIN_TOKEN, "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_log_register_alias_and_load_a_sklearn_model(mlflow_server: ServerProcess) -> None:
    X = np.array([[0.0, 0.1], [0.2, 0.1], [0.9, 1.0], [1.0, 0.8]])
    y = np.array([0, 0, 1, 1])
    classifier = LogisticRegression().fit(X, y)
    name = unique("clf")
    mlflow.set_experiment(unique("models"))
    # mlflow's own type-hint inspection of scikit-learn warns about `Any`; nothing to fix here.
    with mlflow.start_run() as run, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Any type hint is inferred", category=UserWarning)
        info = mlflow.sklearn.log_model(
            classifier,
            name="model",
            registered_model_name=name,
            serialization_format="skops",
            pip_requirements=["scikit-learn"],
        )
    assert str(info.registered_model_version) == "1"
    assert info.model_id.startswith("m-")

    client = MlflowClient()
    client.set_registered_model_alias(name, "champion", "1")
    expected = classifier.predict(X)
    for uri in (
        f"models:/{name}/1",
        f"models:/{name}@champion",
        f"models:/{info.model_id}",
        f"models:/{name}/latest",
    ):
        loaded = mlflow.pyfunc.load_model(uri)
        assert list(loaded.predict(X)) == list(expected), uri
    assert list(mlflow.sklearn.load_model(f"runs:/{run.info.run_id}/model").predict(X)) == list(expected)

    logged = client.get_logged_model(info.model_id)
    assert (logged.name, logged.source_run_id, logged.status.to_int()) == ("model", run.info.run_id, 2)
    assert logged.artifact_location.startswith("mlflow-artifacts:/")
    assert client.get_model_version(name, "1").run_id == run.info.run_id
    raw = httpx.get(
        f"{mlflow_server.url}/api/2.0/mlflow/model-versions/get",
        params={"name": name, "version": "1"},
        timeout=30,
        headers=AUTH,
    ).json()["model_version"]
    assert (raw["model_id"], raw["source"]) == (info.model_id, f"models:/{info.model_id}")
    assert client.get_model_version_download_uri(name, "1") == logged.artifact_location
    found = client.search_logged_models([run.info.experiment_id], filter_string="name = 'model'")
    assert [m.model_id for m in found] == [info.model_id]

    # Registering the run's model by its runs:/ path finds the logged model it produced.
    again = mlflow.register_model(f"runs:/{run.info.run_id}/model", f"{name}-copy")
    assert again.version == "1"
    copy = mlflow.pyfunc.load_model(f"models:/{name}-copy/1")
    assert list(copy.predict(X)) == list(expected)

    # The same model through the native API and the CLI.
    seen = httpx.get(
        f"{mlflow_server.url}/api/v1/models/{name}/versions/champion", timeout=30, headers=AUTH
    ).json()
    assert (seen["version"], seen["run_id"], seen["source"]) == (
        1,
        run.info.run_id,
        f"models:/{info.model_id}",
    )
    shown = cli_model_show(mlflow_server, name)
    assert (shown["model"]["latest_version"], shown["model"]["aliases"]) == (1, {"champion": 1})
    assert [v["source"] for v in shown["versions"]] == [f"models:/{info.model_id}"]
    assert [v["logged_model_id"] for v in shown["versions"]] == [info.model_id]


def test_logged_model_endpoints(mlflow_server: ServerProcess) -> None:
    client = MlflowClient()
    experiment_id = client.create_experiment(unique("logged"))
    run_id = client.create_run(experiment_id).info.run_id
    first = client.create_logged_model(
        experiment_id,
        name="net",
        source_run_id=run_id,
        tags={"stage": "dev"},
        params={"lr": "0.1"},
        model_type="agent",
    )
    second = client.create_logged_model(experiment_id, name="tree")
    assert first.status.to_int() == 1  # PENDING until finalized
    assert first.artifact_location.endswith(f"/models/{first.model_id}/artifacts")

    client.set_logged_model_tags(first.model_id, {"owner": "ana", "stage": "prod"})
    client.delete_logged_model_tag(first.model_id, "owner")
    client.log_model_params(first.model_id, {"depth": "3"})
    ready = client.finalize_logged_model(first.model_id, "READY")
    assert ready.status.to_int() == 2
    got = client.get_logged_model(first.model_id)
    assert (got.tags, got.params, got.model_type) == ({"stage": "prod"}, {"lr": "0.1", "depth": "3"}, "agent")

    everything = client.search_logged_models([experiment_id])
    assert {m.model_id for m in everything} == {first.model_id, second.model_id}
    by_tag = client.search_logged_models([experiment_id], filter_string="tags.stage = 'prod'")
    assert [m.model_id for m in by_tag] == [first.model_id]
    by_param = client.search_logged_models(
        [experiment_id], filter_string="params.lr = '0.1' AND name = 'net'"
    )
    assert [m.model_id for m in by_param] == [first.model_id]
    ordered = client.search_logged_models(
        [experiment_id], order_by=[{"field_name": "name", "ascending": False}]
    )
    assert [m.name for m in ordered] == ["tree", "net"]
    page = client.search_logged_models([experiment_id], max_results=1)
    assert len(page) == 1
    assert page.token

    client.delete_logged_model(second.model_id)
    assert [m.model_id for m in client.search_logged_models([experiment_id])] == [first.model_id]
    for call in (
        lambda: client.get_logged_model(second.model_id),
        lambda: client.get_logged_model("m-0123abcd"),
    ):
        with pytest.raises(MlflowException) as caught:
            call()
        assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    for call in (
        lambda: client.search_logged_models([experiment_id], filter_string="name = 'a' OR name = 'b'"),
        lambda: client.search_logged_models([experiment_id], filter_string="metrics.acc > 1"),
        lambda: client.create_logged_model("99999999"),
        lambda: client.set_logged_model_tags("m-0123abcd", {"a": "b"}),  # the client rewraps the 404
    ):
        with pytest.raises(MlflowException) as caught:
            call()
        assert caught.value.error_code in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST")
    api = f"{mlflow_server.url}/api/2.0/mlflow/logged-models"
    bad = httpx.patch(f"{api}/{first.model_id}", json={"status": "SHINY"}, timeout=30, headers=AUTH)
    assert bad.status_code == 400
    assert bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_metrics_logged_with_a_model_id_show_on_the_model(mlflow_server: ServerProcess) -> None:
    client = MlflowClient()
    mlflow.set_experiment(unique("model-metrics"))
    with mlflow.start_run() as run:
        model = mlflow.initialize_logged_model(name="net")
        other = mlflow.initialize_logged_model(name="tree")
        mlflow.log_metric("acc", 0.9, step=1, model_id=model.model_id)
        mlflow.log_metrics({"f1": 0.75, "loss": float("nan")}, step=2, model_id=model.model_id)
        client.log_batch(
            run.info.run_id,
            metrics=[
                Metric("auc", 0.5, 1_700_000_000_000, 3, model_id=other.model_id),
                Metric(
                    "auc",
                    0.6,
                    1_700_000_000_001,
                    3,
                    model_id=model.model_id,
                    dataset_name="iris",
                    dataset_digest="abc123",
                ),
                Metric("plain", 1.0, 1_700_000_000_002, 0),
            ],
        )
        mlflow.log_metric("plain", 2.0, step=1)

    got = client.get_logged_model(model.model_id)
    assert got.metrics is not None
    points = sorted((m.key, m.step, m.run_id, m.model_id) for m in got.metrics)
    assert points == [
        ("acc", 1, run.info.run_id, model.model_id),
        ("auc", 3, run.info.run_id, model.model_id),
        ("f1", 2, run.info.run_id, model.model_id),
        ("loss", 2, run.info.run_id, model.model_id),
    ]
    by_key = {m.key: m for m in got.metrics}
    assert (by_key["acc"].value, by_key["f1"].value, math.isnan(by_key["loss"].value)) == (0.9, 0.75, True)
    assert (by_key["auc"].value, by_key["auc"].timestamp) == (0.6, 1_700_000_000_001)
    assert (by_key["auc"].dataset_name, by_key["auc"].dataset_digest) == ("iris", "abc123")
    assert (by_key["acc"].dataset_name, by_key["acc"].dataset_digest) == (None, None)
    other_got = client.get_logged_model(other.model_id)
    assert [(m.key, m.value) for m in other_got.metrics or []] == [("auc", 0.5)]

    # Search answers the same data; the run keeps every point as its own metric too.
    found = {m.model_id: m for m in client.search_logged_models([run.info.experiment_id])}
    assert sorted(m.key for m in found[model.model_id].metrics or []) == ["acc", "auc", "f1", "loss"]
    assert [m.key for m in found[other.model_id].metrics or []] == ["auc"]
    on_run = client.get_run(run.info.run_id).data.metrics
    assert {k: on_run[k] for k in ("acc", "f1", "plain")} == {"acc": 0.9, "f1": 0.75, "plain": 2.0}

    # A metric naming an unknown (or deleted) model refuses the whole batch: nothing is stored.
    client.delete_logged_model(other.model_id)
    for model_id in ("m-0123abcd", other.model_id):
        with pytest.raises(MlflowException) as caught:
            client.log_batch(
                run.info.run_id,
                metrics=[
                    Metric("refused", 1.0, 1_700_000_000_000, 0),
                    Metric("refused2", 1.0, 1_700_000_000_000, 0, model_id=model_id),
                ],
            )
        assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert "refused" not in client.get_run(run.info.run_id).data.metrics
    assert len(client.get_logged_model(model.model_id).metrics or []) == 4


def test_a_version_made_from_a_logged_model_is_recorded_on_it(mlflow_server: ServerProcess) -> None:
    client = MlflowClient()
    experiment_id = client.create_experiment(unique("registrations"))
    model = client.create_logged_model(experiment_id, name="net")
    name = unique("reg")
    client.create_registered_model(name)
    for _ in range(2):
        client.create_model_version(name, f"models:/{model.model_id}", model_id=model.model_id)
    # MLflow's server keeps registrations in this tag (the proto's `registrations` field is
    # never filled by it, nor read by the client).
    tag = client.get_logged_model(model.model_id).tags["mlflow.modelVersions"]
    assert json.loads(tag) == [{"name": name, "version": 1}, {"name": name, "version": 2}]
    # The fluent API reads the tag and appends its own entry, as against MLflow's server.
    mlflow.register_model(f"models:/{model.model_id}", f"{name}-b")
    tag = client.get_logged_model(model.model_id).tags["mlflow.modelVersions"]
    assert {"name": f"{name}-b", "version": 1} in json.loads(tag)


def test_deleting_a_logged_model_deletes_its_files(mlflow_server: ServerProcess, tmp_path: Path) -> None:
    client = MlflowClient()
    experiment_id = client.create_experiment(unique("delete-files"))
    doomed = client.create_logged_model(experiment_id, name="doomed")
    kept = client.create_logged_model(experiment_id, name="kept")
    (tmp_path / "weights.bin").write_bytes(b"\x00" * 1024)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "config.json").write_text("{}")
    for model in (doomed, kept):
        client.log_model_artifacts(model.model_id, str(tmp_path))

    def files_of(model_id: str) -> list[str]:
        return sorted(p.name for p in mlflow_server.home.rglob("*") if p.is_file() and model_id in p.parts)

    assert files_of(doomed.model_id) == ["config.json", "weights.bin"]
    client.delete_logged_model(doomed.model_id)
    assert files_of(doomed.model_id) == []
    assert files_of(kept.model_id) == ["config.json", "weights.bin"]
    listed = client.list_logged_model_artifacts(kept.model_id)
    assert sorted(f.path for f in listed) == ["sub", "weights.bin"]
