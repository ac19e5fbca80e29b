"""MLflow 3 logged models and ``models:/`` URIs: the real client logs a scikit-learn model,
registers it, and loads it back by version, alias and model id — then ``/api/v1`` and the
CLI show what it registered."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
import warnings
from typing import Any

import httpx
import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.linear_model import LogisticRegression

from tests.conftest import ServerProcess

pytestmark = pytest.mark.slow


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def cli_model_show(server: ServerProcess, name: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "shipyard", "model", "show", name, "--output", "json"],
        capture_output=True,
        text=True,
        env={"SHIPYARD_URL": server.url, "PATH": "/usr/bin:/bin"},
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
    seen = httpx.get(f"{mlflow_server.url}/api/v1/models/{name}/versions/champion", timeout=30).json()
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
    bad = httpx.patch(f"{api}/{first.model_id}", json={"status": "SHINY"}, timeout=30)
    assert bad.status_code == 400
    assert bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"
