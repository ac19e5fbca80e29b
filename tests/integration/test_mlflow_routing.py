"""MLflow's routes sit in front of the native ones behind a prefix check (issue 11: small calls
fast): each face still answers its own paths, in its own error format."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shipyard.settings import Settings
from tests.conftest import ADMIN_TOKEN, AUTH
from tests.integration.test_access_matrix import SyncClient, in_process


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SyncClient]:
    settings = Settings(home=tmp_path_factory.mktemp("routing"), roles="api", admin_token=ADMIN_TOKEN)
    with in_process(settings, AUTH) as client:
        yield client


def test_both_faces_answer_their_own_paths(api: SyncClient) -> None:
    created = api.request("POST", "/api/2.0/mlflow/experiments/create", json={"name": "routing"})
    assert created.status_code == 200
    experiment_id = created.json()["experiment_id"]
    run = api.request("POST", "/ajax-api/2.0/mlflow/runs/create", json={"experiment_id": experiment_id})
    run_id = run.json()["run"]["info"]["run_id"]
    logged = api.request(
        "POST",
        "/api/2.0/mlflow/runs/log-metric",
        json={"run_id": run_id, "key": "loss", "value": 0.5, "timestamp": 1, "step": 3},
    )
    assert logged.status_code == 200
    got = api.get("/api/2.0/mlflow/runs/get", params={"run_id": run_id}).json()["run"]
    assert got["data"]["metrics"] == [{"key": "loss", "value": 0.5, "timestamp": 1, "step": 3}]
    native = api.get(f"/api/v1/runs/{run_id}")
    assert native.status_code == 200 and native.json()["metrics"]["loss"]["value"] == 0.5
    assert api.get("/healthz").json()["status"] == "ok"


def test_unknown_paths_get_the_error_format_of_their_face(api: SyncClient) -> None:
    mlflow = api.request("POST", "/api/2.0/mlflow/runs/no-such-thing", json={})
    assert mlflow.status_code == 404 and mlflow.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    assert api.get("/ajax-api/3.0/mlflow/nothing").json()["error_code"] == "ENDPOINT_NOT_FOUND"
    # A path that only starts like MLflow's is not MLflow's.
    lookalike = api.get("/api/2.0/mlflowx/runs/get")
    assert lookalike.status_code == 404 and "error_code" not in lookalike.json()
    native = api.get("/api/v1/no-such-thing")
    assert native.status_code == 404 and "error_code" not in native.json()
