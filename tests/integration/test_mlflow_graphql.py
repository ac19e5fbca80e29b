"""MLflow's GraphQL endpoint in-process (the app over ASGI, a real SQLite store, auth on):
the UI's own queries resolve, each field is guarded by its REST route's permission, and
bad requests are GraphQL errors with a 4xx — never a 500, never data the caller may not read."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from anyio.from_thread import start_blocking_portal

from shipyard.server.app import create_app
from shipyard.server.mlflow._graphql_limits import MAX_ALIASES, MAX_DEPTH, MAX_ROOT_FIELDS, MAX_SELECTIONS
from shipyard.settings import Settings
from tests.conftest import ADMIN_TOKEN, AUTH
from tests.integration.test_access_matrix import ADMIN, SyncClient

# The run page's query as MLflow's web UI sends it (useGetRunQuery.tsx), @component included.
GET_RUN = """
query GetRun($data: MlflowGetRunInput!) @component(name: "MLflow.ExperimentRunTracking") {
  mlflowGetRun(input: $data) {
    apiError { helpUrl code message }
    run {
      info { runName status runUuid experimentId artifactUri endTime lifecycleStage startTime userId }
      experiment { experimentId name tags { key value } artifactLocation lifecycleStage lastUpdateTime }
      modelVersions { status version name source }
      data { metrics { key value step timestamp } params { key value } tags { key value } }
      inputs {
        datasetInputs { dataset { digest name profile schema source sourceType } tags { key value } }
        modelInputs { modelId }
      }
      outputs { modelOutputs { modelId step } }
    }
  }
}
"""

# The run list's query (useSearchRunsQuery.tsx), model versions of each run included.
SEARCH_RUNS = """
query SearchRuns($data: MlflowSearchRunsInput!) {
  mlflowSearchRuns(input: $data) {
    apiError { helpUrl code message }
    runs {
      info { runName status runUuid experimentId artifactUri endTime lifecycleStage startTime userId }
      experiment { experimentId name tags { key value } artifactLocation lifecycleStage lastUpdateTime }
      data { metrics { key value step timestamp } params { key value } tags { key value } }
      inputs {
        datasetInputs { dataset { digest name profile schema source sourceType } tags { key value } }
        modelInputs { modelId }
      }
      outputs { modelOutputs { modelId step } }
      modelVersions { version name creationTimestamp status source }
    }
    nextPageToken
  }
}
"""

# The experiment page's query (useGetExperimentQuery.tsx).
GET_EXPERIMENT = """
query MlflowGetExperimentQuery($input: MlflowGetExperimentInput!) @component(name: "MLflow.ExperimentRunTracking") {
  mlflowGetExperiment(input: $input) {
    apiError { code message }
    experiment { artifactLocation creationTime experimentId lastUpdateTime lifecycleStage name tags { key value } }
  }
}
"""

INTERVAL = """
query GetMetricHistoryBulkInterval($data: MlflowGetMetricHistoryBulkIntervalInput!)
@component(name: "MLflow.ExperimentRunTracking") {
  mlflowGetMetricHistoryBulkInterval(input: $data) {
    __typename
    metrics { timestamp step runId key value }
    apiError { code message }
  }
}
"""


@dataclass
class World:
    api: SyncClient
    runs_only: dict[str, str]  # the headers of a user who may read runs but not models
    experiment_id: str
    run_id: str

    def gql(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> httpx.Response:
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        return self.api.request("POST", "/graphql", json=body, headers=kw.pop("headers", AUTH), **kw)

    def ml(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.api.request("POST", f"/api/2.0/mlflow/{path}", json=body, headers=AUTH)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    app = create_app(Settings(home=tmp_path_factory.mktemp("graphql"), roles="api", admin_token=ADMIN_TOKEN))
    identity = app.state.services.identity
    identity.create_role(ADMIN, "runs-reader", ["experiments:read"])
    identity.create_user(ADMIN, "rita")
    identity.assign(ADMIN, "rita", "runs-reader", "*")
    token = identity.create_token(ADMIN, "graphql", user="rita").secret
    with start_blocking_portal() as portal:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1")
        try:
            w = World(SyncClient(portal, client), {"Authorization": f"Bearer {token}"}, "", "")
            w.experiment_id = w.ml("experiments/create", {"name": "gql"})["experiment_id"]
            w.run_id = w.ml("runs/create", {"experiment_id": w.experiment_id, "run_name": "first"})["run"][
                "info"
            ]["run_id"]
            w.ml(
                "runs/log-batch",
                {
                    "run_id": w.run_id,
                    "metrics": [
                        {"key": "loss", "value": 1.0 / (s + 1), "timestamp": 1000 + s, "step": s}
                        for s in range(20)
                    ]
                    + [{"key": "nan", "value": "NaN", "timestamp": 5, "step": 0}],
                    "params": [{"key": "lr", "value": "0.1"}],
                },
            )
            w.ml(
                "runs/log-inputs",
                {
                    "run_id": w.run_id,
                    "datasets": [
                        {
                            "tags": [{"key": "mlflow.data.context", "value": "training"}],
                            "dataset": {
                                "name": "iris",
                                "digest": "d1",
                                "source_type": "code",
                                "source": "{}",
                            },
                        }
                    ],
                },
            )
            w.ml("registered-models/create", {"name": "gql-model"})
            uploaded = w.api.request(
                "POST",
                "/ajax-api/2.0/mlflow/upload-artifact",
                params={"run_uuid": w.run_id, "path": "model/MLmodel"},
                content=b"flavors: {}\n",
                headers={**AUTH, "Content-Type": "application/json"},
            )
            assert uploaded.status_code == 200, uploaded.text
            source = f"runs:/{w.run_id}/model"
            w.ml("model-versions/create", {"name": "gql-model", "source": source, "run_id": w.run_id})
            yield w
        finally:
            portal.call(client.aclose)
            app.state.services.audit.stop()


def test_the_run_page_query_answers_like_mlflow(world: World) -> None:
    response = world.gql(GET_RUN, {"data": {"runId": world.run_id}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body
    run = body["data"]["mlflowGetRun"]["run"]
    assert run["info"]["runUuid"] == world.run_id and run["info"]["runName"] == "first"
    assert run["info"]["status"] == "RUNNING"
    assert isinstance(run["info"]["startTime"], str) and run["info"]["startTime"].isdigit()  # LongString
    assert run["experiment"]["experimentId"] == world.experiment_id and run["experiment"]["name"] == "gql"
    source = f"runs:/{world.run_id}/model"
    assert run["modelVersions"] == [
        {"status": "READY", "version": "1", "name": "gql-model", "source": source}
    ]
    metrics = {m["key"]: m for m in run["data"]["metrics"]}
    assert metrics["loss"]["step"] == "19" and metrics["loss"]["value"] == pytest.approx(0.05)
    assert metrics["nan"]["value"] is None  # GraphQL's Float has no NaN: null, as on MLflow
    assert run["data"]["params"] == [{"key": "lr", "value": "0.1"}]
    assert body["data"]["mlflowGetRun"]["apiError"] is None


def test_the_experiment_page_query(world: World) -> None:
    body = world.gql(GET_EXPERIMENT, {"input": {"experimentId": world.experiment_id}}).json()
    experiment = body["data"]["mlflowGetExperiment"]["experiment"]
    assert experiment["name"] == "gql" and experiment["lifecycleStage"] == "active"
    assert experiment["creationTime"].isdigit() and experiment["lastUpdateTime"].isdigit()
    assert experiment["artifactLocation"] == f"mlflow-artifacts:/default/{world.experiment_id}"
    # "0" names the workspace's Default experiment, as everywhere in the MLflow API.
    default = world.gql(GET_EXPERIMENT, {"input": {"experimentId": "0"}}).json()
    assert default["data"]["mlflowGetExperiment"]["experiment"]["name"] == "Default"


def test_search_runs_as_query_and_as_mutation(world: World) -> None:
    variables = {"data": {"experimentIds": [world.experiment_id], "filter": "metrics.loss < 1"}}
    answer = world.gql(SEARCH_RUNS, variables).json()["data"]["mlflowSearchRuns"]
    assert [r["info"]["runUuid"] for r in answer["runs"]] == [world.run_id]
    assert [v["name"] for v in answer["runs"][0]["modelVersions"]] == ["gql-model"]
    assert answer["runs"][0]["modelVersions"][0]["creationTimestamp"].isdigit()
    assert answer["nextPageToken"] is None
    mutation = SEARCH_RUNS.replace("query SearchRuns", "mutation SearchRuns")
    again = world.gql(mutation, variables).json()["data"]["mlflowSearchRuns"]
    assert again == answer
    none = world.gql(
        SEARCH_RUNS, {"data": {"experimentIds": [world.experiment_id], "filter": "metrics.loss > 5"}}
    )
    assert none.json()["data"]["mlflowSearchRuns"]["runs"] == []


def test_chart_points_listing_experiment_and_versions(world: World) -> None:
    points = world.gql(
        INTERVAL, {"data": {"runIds": [world.run_id], "metricKey": "loss", "startStep": 5, "endStep": 9}}
    ).json()["data"]["mlflowGetMetricHistoryBulkInterval"]
    assert points["__typename"] == "MlflowGetMetricHistoryBulkIntervalResponse"
    assert [p["step"] for p in points["metrics"]] == ["5", "6", "7", "8", "9"]
    assert {p["runId"] for p in points["metrics"]} == {world.run_id}
    query = """query Many($e: String, $r: String) {
      e: mlflowGetExperiment(input: {experimentId: $e}) { experiment { name workspace } }
      a: mlflowListArtifacts(input: {runId: $r}) { rootUri files { path isDir fileSize } }
      m: mlflowListArtifacts(input: {runId: $r, path: "model"}) { files { path isDir fileSize } }
      v: mlflowSearchModelVersions(input: {filter: "name = 'gql-model'", maxResults: "5"}) {
        modelVersions { version runId }
      }
      t: test(inputString: "abc") { output }
    }"""
    data = world.gql(query, {"e": world.experiment_id, "r": world.run_id}).json()["data"]
    assert data["e"]["experiment"] == {"name": "gql", "workspace": "default"}
    root = f"mlflow-artifacts:/default/{world.experiment_id}/{world.run_id}/artifacts"
    assert data["a"] == {"rootUri": root, "files": [{"path": "model", "isDir": True, "fileSize": None}]}
    assert data["m"]["files"] == [{"path": "model/MLmodel", "isDir": False, "fileSize": "12"}]
    assert data["v"]["modelVersions"] == [{"version": "1", "runId": world.run_id}]
    assert data["t"] == {"output": "abc"}


def test_dataset_summaries_as_mlflows_mutation(world: World) -> None:
    mutation = """mutation D($ids: [String]) {
      mlflowSearchDatasets(input: {experimentIds: $ids}) { datasetSummaries { experimentId name digest context } }
    }"""
    body = world.gql(mutation, {"ids": [world.experiment_id]}).json()
    assert body["data"]["mlflowSearchDatasets"]["datasetSummaries"] == [
        {"experimentId": world.experiment_id, "name": "iris", "digest": "d1", "context": "training"}
    ]
    too_many = world.gql(mutation, {"ids": [world.experiment_id] * 21}).json()
    assert too_many["errors"][0]["extensions"]["code"] == "INVALID_PARAMETER_VALUE"


def test_a_field_the_caller_may_not_read_is_an_error_not_data(world: World) -> None:
    response = world.gql(GET_RUN, {"data": {"runId": world.run_id}}, headers=world.runs_only)
    assert response.status_code == 200
    body = response.json()
    run = body["data"]["mlflowGetRun"]["run"]
    assert run["info"]["runUuid"] == world.run_id  # experiments:read: the run answers
    assert run["modelVersions"] is None  # models:read missing: no versions leak
    [error] = body["errors"]
    assert error["path"] == ["mlflowGetRun", "run", "modelVersions"]
    assert error["extensions"]["code"] == "PERMISSION_DENIED"
    assert "models:read" in error["message"]
    versions = world.gql(
        "{ mlflowSearchModelVersions(input: {}) { modelVersions { name } } }", headers=world.runs_only
    )
    body = versions.json()
    assert body["data"] == {"mlflowSearchModelVersions": None}
    assert body["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"


def test_errors_of_a_field_keep_mlflow_codes(world: World) -> None:
    body = world.gql(GET_RUN, {"data": {"runId": "0" * 32}}).json()
    assert body["data"] == {"mlflowGetRun": None}
    assert body["errors"][0]["extensions"]["code"] == "RESOURCE_DOES_NOT_EXIST"
    assert body["errors"][0]["path"] == ["mlflowGetRun"]
    too_many = world.gql(SEARCH_RUNS, {"data": {"experimentIds": [world.experiment_id], "maxResults": 1001}})
    assert too_many.json()["errors"][0]["extensions"]["code"] == "INVALID_PARAMETER_VALUE"
    assert "pageToken" in too_many.json()["errors"][0]["message"]
    missing = world.gql("{ mlflowGetRun(input: {}) { run { info { runId } } } }").json()
    assert missing["errors"][0]["extensions"]["code"] == "INVALID_PARAMETER_VALUE"
    assert missing["errors"][0]["message"].startswith("Missing value for required parameter 'run_id'.")
    escape = world.gql(
        'query L($r: String) { mlflowListArtifacts(input: {runId: $r, path: "../../x"}) { files { path } } }',
        {"r": world.run_id},
    ).json()
    assert escape["data"] == {"mlflowListArtifacts": None}
    assert escape["errors"][0]["extensions"]["code"] == "INVALID_PARAMETER_VALUE"
    assert escape["errors"][0]["message"].startswith("Invalid path")
    no_runs = world.gql(INTERVAL, {"data": {"runIds": [], "metricKey": "loss"}}).json()
    assert "'run_ids'" in no_runs["errors"][0]["message"]
    # The chart query's checks are the REST route's (one service holds them), in MLflow's words.
    for data, says in [
        ({"runIds": [world.run_id] * 101, "metricKey": "loss"}, "at most 100 run_ids. Received 101 run_ids."),
        ({"runIds": [world.run_id], "metricKey": "loss", "maxResults": 2501}, "between 1 and 2500."),
        ({"runIds": [world.run_id], "metricKey": "loss", "startStep": 3}, "both must be specified."),
        (
            {"runIds": [world.run_id], "metricKey": "loss", "startStep": 5, "endStep": 1},
            "Found start_step=5 and end_step=1.",
        ),
    ]:
        refused = world.gql(INTERVAL, {"data": data}).json()
        assert refused["errors"][0]["extensions"]["code"] == "INVALID_PARAMETER_VALUE", refused
        assert refused["errors"][0]["message"].endswith(says), refused


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "BAD_REQUEST"),
        ({"query": 5}, "BAD_REQUEST"),
        ({"query": "{ mlflowGetRun(input: {runId: "}, "GRAPHQL_PARSE_FAILED"),
        ({"query": "{ noSuchField }"}, "GRAPHQL_VALIDATION_FAILED"),
        (
            {"query": "{ mlflowGetRun(input: {runId: 7}) { run { info { runId } } } }"},
            "GRAPHQL_VALIDATION_FAILED",
        ),
        ({"query": GET_RUN, "variables": {"data": {"runId": ["x"]}}}, "GRAPHQL_VALIDATION_FAILED"),
        ({"query": GET_RUN}, "GRAPHQL_VALIDATION_FAILED"),  # a required variable not given
        ({"query": "{ test { output } }", "variables": [1]}, "BAD_REQUEST"),
    ],
)
def test_a_malformed_request_is_a_graphql_error_not_a_500(
    world: World, body: dict[str, Any], code: str
) -> None:
    response = world.api.request("POST", "/graphql", json=body, headers=AUTH)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert "data" not in answer
    assert answer["errors"][0]["extensions"]["code"] == code
    assert answer["errors"][0]["message"]


def test_long_strings_in_and_out(world: World) -> None:
    query = "query V($m: LongString) { mlflowSearchModelVersions(input: {maxResults: $m}) { modelVersions { name } } }"
    for given in ("1", 1):
        found = world.gql(query, {"m": given}).json()
        assert found["data"]["mlflowSearchModelVersions"]["modelVersions"] == [{"name": "gql-model"}]
    for bad in ("many", 1.5, "9" * 30):
        refused = world.gql(query, {"m": bad})
        assert refused.status_code == 400, refused.text
        assert "LongString" in refused.json()["errors"][0]["message"]
    literal = world.gql('{ mlflowSearchModelVersions(input: {maxResults: "many"}) { nextPageToken } }')
    assert literal.status_code == 400
    assert literal.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


def test_a_body_that_is_not_json_and_a_get_request(world: World) -> None:
    raw = world.api.request(
        "POST", "/graphql", content=b"{nope", headers={**AUTH, "Content-Type": "application/json"}
    )
    assert raw.status_code == 400 and raw.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    got = world.api.get("/graphql", params={"query": '{ test(inputString: "x") { output } }'}, headers=AUTH)
    assert got.status_code == 200 and got.json() == {"data": {"test": {"output": "x"}}}


def _nested(depth: int) -> str:
    """A query ``depth`` levels deep, through fragments on a real type."""
    inner = "key"
    query = '{ mlflowGetRun(input: {runId: "x"}) { run { data { metrics { %s } } } } }'
    for _ in range(depth):
        inner = f"... on MlflowMetricExtension {{ {inner} }}"  # inline fragments add no level
    return query % inner


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ('{ mlflowGetRun(input: {runId: "x"}) ' + "{ run " * MAX_DEPTH + "}" * MAX_DEPTH + " }", "deeper"),
        ("{ " + " ".join(f"a{i}: test {{ output }}" for i in range(MAX_ALIASES + 1)) + " }", "aliases"),
        (
            "{ " + " ".join("test { output }" for _ in range(MAX_ROOT_FIELDS + 1)) + " }",
            "root fields",
        ),
        (
            '{ mlflowGetRun(input: {runId: "x"}) { run { data { metrics { '
            + " ".join(["key"] * (MAX_SELECTIONS + 1))
            + " } } } } }",
            "more than",
        ),
    ],
)
def test_an_oversized_or_deep_query_is_refused_before_it_runs(world: World, query: str, says: str) -> None:
    response = world.gql(query)
    assert response.status_code == 400, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] in ("QUERY_TOO_COMPLEX", "GRAPHQL_PARSE_FAILED")
    assert says in error["message"]


def test_a_fragment_bomb_is_counted_not_multiplied(world: World) -> None:
    """Each fragment spreads the next twice: 2^30 fields if expanded naively."""
    query = (
        "query Bomb($r: String) { mlflowGetRun(input: {runId: $r}) { run { data { metrics { ...F0 } } } } }"
        + "".join(
            f" fragment F{i} on MlflowMetricExtension {{ key ...F{i + 1} ...F{i + 1} }}" for i in range(30)
        )
        + " fragment F30 on MlflowMetricExtension { key }"
    )
    started = time.perf_counter()
    response = world.gql(query, {"r": world.run_id})
    assert time.perf_counter() - started < 5
    assert response.status_code == 200, response.text
    assert {m["key"] for m in response.json()["data"]["mlflowGetRun"]["run"]["data"]["metrics"]} == {
        "loss",
        "nan",
    }


def test_a_query_past_the_token_limit_is_refused_by_the_parser(world: World) -> None:
    response = world.gql("{ test { " + "output " * 3000 + "} }")
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


def test_the_ui_query_within_the_limits(world: World) -> None:
    assert world.gql(_nested(3)).status_code == 200


def test_graphql_needs_a_principal(world: World) -> None:
    response = world.api.request("POST", "/graphql", json={"query": "{ test { output } }"})
    assert response.status_code == 401
