"""Bad input on the MLflow face: each a clear 4xx in MLflow's error format, never a 500,
and nothing written. The native API keeps its own error format beside it."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, Param

from tests.conftest import AUTH, ServerProcess

pytestmark = pytest.mark.slow

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"


def call(server: ServerProcess, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, f"{server.url}{path}", timeout=30, **kwargs, headers=AUTH)


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error_code", "message"}, body
    assert body["message"]
    return body  # type: ignore[no-any-return]


@pytest.fixture
def run_id(mlflow_server: ServerProcess) -> str:
    client = MlflowClient()
    experiment_id = client.create_experiment(f"bad-{uuid.uuid4().hex[:8]}")
    return client.create_run(experiment_id).info.run_id


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"{API}/no-such-thing"),
        ("POST", f"{API}/runs/teleport"),
        ("GET", "/ajax-api/2.0/mlflow/experiments/nope"),
        ("POST", f"{API}/runs/get"),  # exists, but as GET only
        ("GET", "/api/2.0/mlflow-artifacts/unknown"),
        ("GET", "/api/3.0/mlflow/no-such-thing"),  # (traces/<id> is served since issue 18)
    ],
)
def test_unknown_endpoints(mlflow_server: ServerProcess, method: str, path: str) -> None:
    assert error_of(call(mlflow_server, method, path), 404)["error_code"] == "ENDPOINT_NOT_FOUND"


def test_native_api_keeps_its_own_error_format(mlflow_server: ServerProcess) -> None:
    response = call(mlflow_server, "GET", "/api/v1/runs/" + "0" * 32)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe"])
def test_malformed_json(mlflow_server: ServerProcess, body: bytes) -> None:
    response = call(mlflow_server, "POST", f"{API}/experiments/create", content=body)
    assert error_of(response, 400)["error_code"] == "MALFORMED_REQUEST"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (f"{API}/runs/search", {"experiment_ids": "x"}, "experiment_ids"),
        (f"{API}/runs/search", {"experiment_ids": ["1"], "max_results": "many"}, "max_results"),
        (f"{API}/experiments/create", {"name": 12}, "name"),
        (f"{API}/experiments/create", {}, "name"),
        (f"{API}/runs/log-metric", {"run_id": "r", "key": "k", "value": "abc", "timestamp": 1}, "value"),
        (f"{API}/runs/log-metric", {"run_id": "r", "key": "k", "value": 1.0}, "timestamp"),
        (f"{API}/runs/log-batch", {"run_id": "r", "metrics": {"key": "k"}}, "metrics"),
        (f"{API}/runs/log-parameter", {"key": "k", "value": "v"}, "run_id"),
    ],
)
def test_wrong_types_and_missing_fields(
    mlflow_server: ServerProcess, path: str, body: dict[str, Any], field: str
) -> None:
    error = error_of(call(mlflow_server, "POST", path, json=body), 400)
    assert error["error_code"] == "INVALID_PARAMETER_VALUE"
    assert field in error["message"]


def test_unknown_ids(mlflow_server: ServerProcess) -> None:
    ghost = "f" * 32
    for method, path, kwargs in [
        ("GET", f"{API}/runs/get", {"params": {"run_id": ghost}}),
        ("GET", f"{API}/experiments/get", {"params": {"experiment_id": "987654"}}),
        ("GET", f"{API}/experiments/get", {"params": {"experiment_id": "not-a-number"}}),
        ("GET", f"{API}/experiments/get-by-name", {"params": {"experiment_name": "never made"}}),
        ("POST", f"{API}/runs/log-parameter", {"json": {"run_id": ghost, "key": "k", "value": "v"}}),
        ("POST", f"{API}/runs/delete", {"json": {"run_id": ghost}}),
        ("POST", f"{API}/experiments/delete", {"json": {"experiment_id": "987654"}}),
        ("GET", f"{API}/metrics/get-history", {"params": {"run_id": ghost, "metric_key": "m"}}),
        ("POST", f"{API}/runs/search", {"json": {"experiment_ids": ["987654"]}}),
    ]:
        response = call(mlflow_server, method, path, **kwargs)
        assert error_of(response, 404)["error_code"] == "RESOURCE_DOES_NOT_EXIST", path


def test_client_sees_mlflow_exceptions(mlflow_server: ServerProcess, run_id: str) -> None:
    client = MlflowClient()
    with pytest.raises(mlflow.MlflowException) as caught:
        client.get_run("0" * 32)
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    name = f"dup-{uuid.uuid4().hex[:8]}"
    client.create_experiment(name)
    with pytest.raises(mlflow.MlflowException) as caught:
        client.create_experiment(name)
    assert caught.value.error_code == "RESOURCE_ALREADY_EXISTS"
    assert caught.value.get_http_status_code() == 400


@pytest.mark.parametrize(
    "filter_string",
    [
        "metrics.acc > 0.5 OR metrics.acc < 0.1",
        "metrics.acc > 'high'",
        "params.lr >",
        "nonsense.key = 'x'",
        "attributes.colour = 'red'",
    ],
)
def test_bad_filters(mlflow_server: ServerProcess, run_id: str, filter_string: str) -> None:
    run = MlflowClient().get_run(run_id)
    response = call(
        mlflow_server,
        "POST",
        f"{API}/runs/search",
        json={"experiment_ids": [run.info.experiment_id], "filter": filter_string},
    )
    assert error_of(response, 400)["error_code"] == "INVALID_PARAMETER_VALUE"


def test_search_of_no_experiments_is_empty(mlflow_server: ServerProcess) -> None:
    assert MlflowClient().search_runs([]) == []


def test_log_batch_limits(mlflow_server: ServerProcess, run_id: str) -> None:
    client = MlflowClient()
    metrics = [Metric("m", float(i), 1_700_000_000_000, i) for i in range(1001)]
    with pytest.raises(mlflow.MlflowException) as caught:
        client._tracking_client.store.log_batch(run_id, metrics=metrics, params=[], tags=[])
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "at most 1000 metrics" in caught.value.message
    params = [Param(f"p{i}", "v") for i in range(101)]
    with pytest.raises(mlflow.MlflowException) as caught:
        client._tracking_client.store.log_batch(run_id, metrics=[], params=params, tags=[])
    assert "at most 100 params" in caught.value.message
    got = client.get_run(run_id)
    assert got.data.metrics == {} and got.data.params == {}, "a refused batch writes nothing"


def test_experiment_artifact_locations_are_server_chosen(mlflow_server: ServerProcess) -> None:
    for location in ["file:///etc", "/tmp/elsewhere", "s3://bucket/x", "mlflow-artifacts:/other#frag"]:
        response = call(
            mlflow_server,
            "POST",
            f"{API}/experiments/create",
            json={"name": f"loc-{uuid.uuid4().hex[:8]}", "artifact_location": location},
        )
        assert error_of(response, 400)["error_code"] == "INVALID_PARAMETER_VALUE"


def test_artifact_path_tricks(mlflow_server: ServerProcess, run_id: str, tmp_path: Path) -> None:
    root = MlflowClient().get_run(run_id).info.artifact_uri.removeprefix("mlflow-artifacts:/")
    workspace, experiment_id = root.split("/")[:2]
    tricks = [
        f"{root}/../../../../etc/passwd",
        f"{root}/%2e%2e/%2e%2e/escape.txt",
        f"{root}/%252e%252e/escape.txt",
        f"{root}/a%00b.txt",
        f"{root}/a\\b.txt",
        "%2Fetc%2Fpasswd",
        f"other-workspace/{experiment_id}/{run_id}/artifacts/x.txt",
        f"{workspace}/{experiment_id}/x.txt",
        f"{workspace}/{experiment_id}/{'0' * 32}/other/x.txt",
        f"{workspace}/{experiment_id}/models/not-a-model/artifacts/x.txt",
    ]
    for path in tricks:
        url = f"{mlflow_server.url}{ARTIFACTS}/{path}"
        for method in ("PUT", "GET", "DELETE"):
            response = httpx.request(
                method, httpx.URL(url), content=b"x" if method == "PUT" else None, headers=AUTH
            )
            assert 400 <= response.status_code < 500, (method, path, response.text)
            assert response.json()["error_code"] in (
                "INVALID_PARAMETER_VALUE",
                "RESOURCE_DOES_NOT_EXIST",
                "ENDPOINT_NOT_FOUND",
            ), (method, path)
        listing = call(mlflow_server, "GET", ARTIFACTS, params={"path": path})
        assert 400 <= listing.status_code < 500, (path, listing.text)
    # An absolute path sent raw (//etc/passwd) and an unknown run are refused too.
    raw = call(mlflow_server, "PUT", f"{ARTIFACTS}//etc/passwd", content=b"x")
    assert error_of(raw, 400)["error_code"] == "INVALID_PARAMETER_VALUE"
    ghost = call(
        mlflow_server, "PUT", f"{ARTIFACTS}/{workspace}/{experiment_id}/{'e' * 32}/artifacts/x", content=b"x"
    )
    assert error_of(ghost, 404)["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    # Nothing landed: the run has no artifacts at all.
    assert MlflowClient().list_artifacts(run_id) == []


def test_get_history_page_size(mlflow_server: ServerProcess, run_id: str) -> None:
    response = call(
        mlflow_server,
        "GET",
        f"{API}/metrics/get-history",
        params={"run_id": run_id, "metric_key": "m", "max_results": 25_001},
    )
    assert error_of(response, 400)["error_code"] == "INVALID_PARAMETER_VALUE"
    token = call(
        mlflow_server,
        "GET",
        f"{API}/metrics/get-history",
        params={"run_id": run_id, "metric_key": "m", "page_token": "garbage!"},
    )
    assert error_of(token, 400)["error_code"] == "INVALID_PARAMETER_VALUE"


def test_surrogates_65_bit_integers_and_invisible_names_are_400s(
    mlflow_server: ServerProcess, run_id: str
) -> None:
    """Issue 10: MLflow's face refuses them too, in its own error format, and writes nothing."""
    surrogate = httpx.post(
        f"{mlflow_server.url}{API}/experiments/create",
        content=b'{"name": "\\ud800"}',  # as json.dumps writes it
        headers={**AUTH, "Content-Type": "application/json"},
        timeout=30,
    )
    assert error_of(surrogate, 400)["error_code"] == "MALFORMED_REQUEST"
    for step in (2**63, 2**64 - 1):
        metric = {"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 1, "step": step}
        error = error_of(call(mlflow_server, "POST", f"{API}/runs/log-metric", json=metric), 400)
        assert error["error_code"] == "INVALID_PARAMETER_VALUE" and "64 bits" in error["message"]
    for path, body in [
        (f"{API}/experiments/create", {"name": "prod\u202eetad"}),
        (f"{API}/runs/update", {"run_id": run_id, "run_name": "best\u200b"}),
        (f"{API}/registered-models/create", {"name": "churn\ufeff"}),
    ]:
        error = error_of(call(mlflow_server, "POST", path, json=body), 400)
        assert error["error_code"] == "INVALID_PARAMETER_VALUE"
        assert "an invisible or control character" in error["message"], error
    client = MlflowClient()
    assert client.get_metric_history(run_id, "m") == []
    assert client.get_run(run_id).info.run_name != "best\u200b"
    assert client.search_registered_models(filter_string="name LIKE 'churn%'") == []
