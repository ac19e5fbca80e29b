"""What MLflow's web UI and newer clients call beside the tracking API, against a real server
(auth on, SQLite and PostgreSQL): ``/graphql``, ``artifacts/list``, a logged model's
``artifacts/{directories,files}``, ``experiments/search-datasets`` and the UI's ajax-only
``metrics/get-history-bulk`` and ``upload-artifact`` — with what the unchanged ``mlflow``
client wrote, and MLflow's answers to bad input."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric

from tests.conftest import AUTH, ServerProcess

pytestmark = pytest.mark.slow

_ML = "/api/2.0/mlflow"
_AJAX = "/ajax-api/2.0/mlflow"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def call(server: ServerProcess, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {**AUTH, **kwargs.pop("headers", {})}
    return httpx.request(method, f"{server.url}{path}", headers=headers, timeout=30, **kwargs)


def mlflow_error(response: httpx.Response, status: int, code: str, text: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code and text in body["message"], body


def test_the_ui_uploads_a_file_the_client_then_reads(mlflow_server: ServerProcess, tmp_path: Path) -> None:
    mlflow.set_experiment(unique("ui-upload"))
    with mlflow.start_run() as run:
        pass
    run_id = run.info.run_id
    table = b'{"columns": ["a"], "data": [[1]]}'
    uploaded = call(
        mlflow_server,
        "POST",
        f"{_AJAX}/upload-artifact",
        params={"run_uuid": run_id, "path": "eval/table.json"},
        content=table,
        headers={"Content-Type": "application/json"},  # as the UI's fetch sends it
    )
    assert uploaded.status_code == 200, uploaded.text
    client = MlflowClient()
    assert [f.path for f in client.list_artifacts(run_id, "eval")] == ["eval/table.json"]
    local = client.download_artifacts(run_id, "eval/table.json", str(tmp_path))
    assert Path(local).read_bytes() == table


@pytest.mark.parametrize(
    ("params", "body", "text"),
    [
        ({}, b"x", "Request must specify run_uuid."),
        ({"run_uuid": "RUN"}, b"x", "Request must specify path."),
        ({"run_uuid": "RUN", "path": ""}, b"x", "Request must specify path."),
        ({"run_uuid": "RUN", "path": "../escape.txt"}, b"x", "Invalid path"),
        ({"run_uuid": "RUN", "path": "/etc/passwd"}, b"x", "Invalid path"),
        ({"run_uuid": "RUN", "path": "a/%2e%2e/b"}, b"x", "Invalid path"),
        ({"run_uuid": "RUN", "path": "empty.txt"}, b"", "Request must specify data."),
        ({"run_uuid": "RUN", "path": "big.bin"}, b"x" * (10 * 1024 * 1024 + 1), "Max size is 10MB"),
    ],
)
def test_upload_artifact_refuses_what_mlflow_refuses(
    mlflow_server: ServerProcess, params: dict[str, str], body: bytes, text: str
) -> None:
    mlflow.set_experiment(unique("ui-upload-bad"))
    with mlflow.start_run() as run:
        pass
    given = {k: run.info.run_id if v == "RUN" else v for k, v in params.items()}
    response = call(
        mlflow_server,
        "POST",
        f"{_AJAX}/upload-artifact",
        params=given,
        content=body,
        headers={"Content-Type": "application/octet-stream"},
    )
    mlflow_error(response, 400, "INVALID_PARAMETER_VALUE", text)
    assert MlflowClient().list_artifacts(run.info.run_id) == []  # nothing was stored


def test_ajax_only_routes_are_not_under_api(mlflow_server: ServerProcess) -> None:
    for method, path in (("POST", "/upload-artifact"), ("GET", "/metrics/get-history-bulk")):
        mlflow_error(call(mlflow_server, method, f"{_ML}{path}"), 404, "ENDPOINT_NOT_FOUND", path)


def test_artifacts_list_in_mlflow_shape(mlflow_server: ServerProcess, tmp_path: Path) -> None:
    mlflow.set_experiment(unique("artifacts-list"))
    (tmp_path / "a.txt").write_text("hello world")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(tmp_path / "a.txt"))
        mlflow.log_artifact(str(tmp_path / "a.txt"), "sub/dir")
    run_id = run.info.run_id
    root = call(mlflow_server, "GET", f"{_ML}/artifacts/list", params={"run_id": run_id}).json()
    assert root["root_uri"] == run.info.artifact_uri
    assert root["files"] == [
        {"path": "a.txt", "is_dir": False, "file_size": 11},
        {"path": "sub", "is_dir": True},
    ]
    # Older clients and the UI name the run run_uuid; a folder's children keep their full path.
    sub = call(
        mlflow_server, "GET", f"{_AJAX}/artifacts/list", params={"run_uuid": run_id, "path": "sub/dir"}
    )
    assert sub.json()["files"] == [{"path": "sub/dir/a.txt", "is_dir": False, "file_size": 11}]
    # A file or a missing folder lists nothing, as on MLflow (the client probes folders so).
    for path in ("a.txt", "nothing/here"):
        listed = call(mlflow_server, "GET", f"{_ML}/artifacts/list", params={"run_id": run_id, "path": path})
        assert listed.status_code == 200 and "files" not in listed.json()
    escape = call(mlflow_server, "GET", f"{_ML}/artifacts/list", params={"run_id": run_id, "path": "../.."})
    mlflow_error(escape, 400, "INVALID_PARAMETER_VALUE", "Invalid path")
    unknown = call(mlflow_server, "GET", f"{_ML}/artifacts/list", params={"run_id": "0" * 32})
    assert unknown.status_code == 404 and unknown.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_a_logged_models_files_listed_and_downloaded(mlflow_server: ServerProcess, tmp_path: Path) -> None:
    experiment_id = MlflowClient().create_experiment(unique("model-files"))
    model = MlflowClient().create_logged_model(experiment_id, name="ui")
    source = tmp_path / "model"
    (source / "data").mkdir(parents=True)
    (source / "MLmodel").write_text("flavors: {}\n")
    (source / "data" / "weights.bin").write_bytes(b"\x00\x01\x02")
    MlflowClient().log_model_artifacts(model.model_id, str(source))
    base = f"/logged-models/{model.model_id}/artifacts"
    for root in (_ML, _AJAX):
        listing = call(mlflow_server, "GET", f"{root}{base}/directories").json()
        assert listing["root_uri"] == model.artifact_location
        assert listing["files"] == [
            {"path": "MLmodel", "is_dir": False, "file_size": 12},
            {"path": "data", "is_dir": True},
        ]
    inner = call(
        mlflow_server, "GET", f"{_ML}{base}/directories", params={"artifact_directory_path": "data"}
    ).json()
    assert inner["files"] == [{"path": "data/weights.bin", "is_dir": False, "file_size": 3}]
    got = call(
        mlflow_server, "GET", f"{_AJAX}{base}/files", params={"artifact_file_path": "data/weights.bin"}
    )
    assert got.status_code == 200 and got.content == b"\x00\x01\x02"
    assert got.headers["content-disposition"] == 'attachment; filename="weights.bin"'
    missing = call(mlflow_server, "GET", f"{_AJAX}{base}/files")
    mlflow_error(
        missing, 400, "BAD_REQUEST", 'Request must include the "artifact_file_path" query parameter.'
    )
    for bad in ("../../../../etc/passwd", "data/../../x"):
        escape = call(mlflow_server, "GET", f"{_AJAX}{base}/files", params={"artifact_file_path": bad})
        mlflow_error(escape, 400, "INVALID_PARAMETER_VALUE", "Invalid path")
    folder = call(mlflow_server, "GET", f"{_AJAX}{base}/files", params={"artifact_file_path": "data"})
    assert folder.status_code == 404 and folder.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    nobody = call(mlflow_server, "GET", f"{_ML}/logged-models/m-{'0' * 32}/artifacts/directories")
    assert nobody.status_code == 404 and nobody.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_history_bulk_for_the_ui_chart(mlflow_server: ServerProcess) -> None:
    mlflow.set_experiment(unique("bulk"))
    client = MlflowClient()
    ids = []
    for offset in (0, 100):
        with mlflow.start_run() as run:
            # Logged out of step order: the answer is in timestamp order, run by run.
            points = [Metric("loss", float(s), 1_700_000_000_000 + offset + 9 - s, s) for s in range(10)]
            client.log_batch(run.info.run_id, metrics=points)
        ids.append(run.info.run_id)
    response = call(
        mlflow_server,
        "GET",
        f"{_AJAX}/metrics/get-history-bulk",
        params={"run_id": ids, "metric_key": "loss"},
    )
    assert response.status_code == 200, response.text
    metrics = response.json()["metrics"]
    assert [m["run_id"] for m in metrics] == [i for i in sorted(ids) for _ in range(10)]
    first = [m for m in metrics if m["run_id"] == ids[0]]
    assert [m["step"] for m in first] == list(range(9, -1, -1))
    assert first[0] == {
        "key": "loss",
        "value": 9.0,
        "timestamp": 1_700_000_000_000,
        "step": 9,
        "run_id": ids[0],
    }
    capped = call(
        mlflow_server,
        "GET",
        f"{_AJAX}/metrics/get-history-bulk",
        params={"run_id": ids, "metric_key": "loss", "max_results": 15},
    )
    assert len(capped.json()["metrics"]) == 15
    for params, text in (
        ({"metric_key": "loss"}, "must specify at least one run_id"),
        ({"run_id": ids}, "must specify a metric_key"),
        ({"run_id": [f"{i:032x}" for i in range(101)], "metric_key": "loss"}, "more than 100 run_ids"),
        ({"run_id": ids, "metric_key": "loss", "max_results": "many"}, "max_results"),
    ):
        bad = call(mlflow_server, "GET", f"{_AJAX}/metrics/get-history-bulk", params=params)
        mlflow_error(bad, 400, "INVALID_PARAMETER_VALUE", text)


def test_search_datasets_of_experiments(mlflow_server: ServerProcess) -> None:
    experiment_id = MlflowClient().create_experiment(unique("datasets"))
    run_id = MlflowClient().create_run(experiment_id).info.run_id
    train = Dataset(name="train", digest="12345", source_type="script", source="test")
    evaluation = Dataset(name="eval", digest="12346", source_type="script", source="test")
    MlflowClient().log_inputs(
        run_id,
        [
            DatasetInput(train, [InputTag("mlflow.data.context", "training")]),
            DatasetInput(evaluation, []),
        ],
    )
    for root in (_ML, _AJAX):
        response = call(
            mlflow_server,
            "POST",
            f"{root}/experiments/search-datasets",
            json={"experiment_ids": [experiment_id]},
        )
        assert response.status_code == 200, response.text
        assert sorted(response.json()["dataset_summaries"], key=lambda d: d["digest"]) == [
            {"experiment_id": experiment_id, "name": "train", "digest": "12345", "context": "training"},
            {"experiment_id": experiment_id, "name": "eval", "digest": "12346"},
        ]
    none = call(mlflow_server, "POST", f"{_AJAX}/experiments/search-datasets", json={"experiment_ids": []})
    mlflow_error(none, 400, "INVALID_PARAMETER_VALUE", "must specify at least one experiment_id")
    many = call(
        mlflow_server, "POST", f"{_AJAX}/experiments/search-datasets", json={"experiment_ids": ["1"] * 21}
    )
    mlflow_error(many, 400, "INVALID_PARAMETER_VALUE", "cannot specify more than 20 experiment_ids")


GET_RUN = """
query GetRun($data: MlflowGetRunInput!) @component(name: "MLflow.ExperimentRunTracking") {
  mlflowGetRun(input: $data) {
    apiError { helpUrl code message }
    run {
      info { runName status runUuid experimentId artifactUri endTime lifecycleStage startTime userId }
      experiment { experimentId name tags { key value } artifactLocation lifecycleStage lastUpdateTime }
      modelVersions { status version name source }
      data { metrics { key value step timestamp } params { key value } tags { key value } }
      inputs { datasetInputs { dataset { digest name } tags { key value } } }
    }
  }
}
"""


def test_graphql_answers_the_run_page(mlflow_server: ServerProcess, tmp_path: Path) -> None:
    name = unique("gql")
    mlflow.set_experiment(name)
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    with mlflow.start_run(run_name="page") as run:
        mlflow.log_param("lr", "0.1")
        mlflow.log_metric("loss", 0.25, step=3)
        mlflow.log_artifact(str(tmp_path / "MLmodel"), "model")
    run_id = run.info.run_id
    version = mlflow.register_model(f"runs:/{run_id}/model", name)
    response = call(
        mlflow_server, "POST", "/graphql", json={"query": GET_RUN, "variables": {"data": {"runId": run_id}}}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    page = body["data"]["mlflowGetRun"]["run"]
    assert page["info"]["runName"] == "page" and page["info"]["status"] == "FINISHED"
    assert page["info"]["artifactUri"] == run.info.artifact_uri
    assert page["info"]["startTime"] == str(MlflowClient().get_run(run_id).info.start_time)
    assert page["experiment"]["name"] == name
    assert page["modelVersions"] == [
        {
            "status": "READY",
            "version": version.version,
            "name": name,
            "source": f"{run.info.artifact_uri}/model",
        }
    ]
    assert page["data"]["metrics"] == [
        {"key": "loss", "value": 0.25, "step": "3", "timestamp": page["data"]["metrics"][0]["timestamp"]}
    ]
    assert page["data"]["params"] == [{"key": "lr", "value": "0.1"}]
    # The same through MLflow's search (a mutation on MLflow's schema, and a query).
    search = """mutation S($ids: [String]) { mlflowSearchRuns(input: {experimentIds: $ids}) { runs { info { runId } } } }"""
    experiment_id = run.info.experiment_id
    found = call(
        mlflow_server, "POST", "/graphql", json={"query": search, "variables": {"ids": [experiment_id]}}
    )
    assert found.json()["data"]["mlflowSearchRuns"]["runs"] == [{"info": {"runId": run_id}}]


def test_graphql_refuses_bad_requests_with_graphql_errors(mlflow_server: ServerProcess) -> None:
    broken = call(mlflow_server, "POST", "/graphql", json={"query": "{ mlflowGetRun(input: "})
    assert broken.status_code == 400
    assert broken.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    deep = '{ mlflowGetRun(input: {runId: "x"}) ' + "{ run " * 12 + "}" * 12 + " }"
    too_deep = call(mlflow_server, "POST", "/graphql", json={"query": deep})
    assert too_deep.status_code == 400
    assert too_deep.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    missing = call(
        mlflow_server, "POST", "/graphql", json={"query": GET_RUN, "variables": {"data": {"runId": "0" * 32}}}
    )
    assert missing.status_code == 200
    assert missing.json()["errors"][0]["extensions"]["code"] == "RESOURCE_DOES_NOT_EXIST"
    anonymous = httpx.post(f"{mlflow_server.url}/graphql", json={"query": "{ test { output } }"}, timeout=30)
    assert anonymous.status_code == 401
