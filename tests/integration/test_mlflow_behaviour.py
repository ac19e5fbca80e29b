"""Issue 18: where Shipyard's MLflow face answered differently from MLflow 3.17, it now answers
as MLflow does — each case here against MLflow's own source (its SQL stores and handlers).

In-process (httpx over ASGI, auth on): the logic is the subject, not the transport; the real
client against a real server is in tests/e2e/mlflow/test_mlflow_behaviour.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from shipyard.settings import Settings
from tests.conftest import ADMIN_TOKEN, AUTH
from tests.integration.test_access_matrix import SyncClient, in_process

API = "/api/2.0/mlflow"
DOCS = " See the API docs for more information about request parameters."
GHOST = "0123456789abcdef0123456789abcdef"  # a run id this server never made


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SyncClient]:
    settings = Settings(home=tmp_path_factory.mktemp("behaviour"), roles="api", admin_token=ADMIN_TOKEN)
    with in_process(settings, AUTH) as client:
        yield client


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code, body
    return str(body["message"])


def post(api: SyncClient, path: str, body: dict[str, Any]) -> httpx.Response:
    return api.request("POST", f"{API}/{path}", json=body)


def experiment(api: SyncClient) -> str:
    return str(ok(post(api, "experiments/create", {"name": unique("exp")}))["experiment_id"])


def new_run(api: SyncClient, experiment_id: str, **body: Any) -> dict[str, Any]:
    return ok(post(api, "runs/create", {"experiment_id": experiment_id, **body}))["run"]  # type: ignore[no-any-return]


# -- 1. links to things this server does not hold are stored, as MLflow stores them -----------


def test_a_parent_run_id_from_elsewhere_is_kept(api: SyncClient) -> None:
    exp = experiment(api)
    tags = [{"key": "mlflow.parentRunId", "value": GHOST}]
    run = new_run(api, exp, tags=tags)
    got = ok(api.get(f"{API}/runs/get", params={"run_id": run["info"]["run_id"]}))["run"]
    assert {"key": "mlflow.parentRunId", "value": GHOST} in got["data"]["tags"]
    found = ok(
        post(api, "runs/search", {"experiment_ids": [exp], "filter": f"tags.mlflow.parentRunId = '{GHOST}'"})
    )
    assert [r["info"]["run_id"] for r in found["runs"]] == [run["info"]["run_id"]]
    # Not a run id at all: refused, saying what a run id is.
    bad = [{"key": "mlflow.parentRunId", "value": "x" * 33}]
    assert "run id" in error(
        post(api, "runs/create", {"experiment_id": exp, "tags": bad}), 400, "INVALID_PARAMETER_VALUE"
    )
    # The native API makes its runs itself: an unknown parent is still refused there.
    native = api.request("POST", "/api/v1/runs", json={"experiment_id": exp, "parent_run_id": GHOST})
    assert native.status_code == 404 and native.json()["error"]["code"] == "NOT_FOUND"


def test_a_version_of_a_run_from_elsewhere_is_kept_and_unresolved_in_lineage(api: SyncClient) -> None:
    name = unique("elsewhere")
    ok(post(api, "registered-models/create", {"name": name}))
    version = ok(
        post(api, "model-versions/create", {"name": name, "source": f"runs:/{GHOST}/model", "run_id": GHOST})
    )["model_version"]
    assert (version["version"], version["run_id"], version["source"]) == ("1", GHOST, f"runs:/{GHOST}/model")
    got = ok(api.get(f"{API}/model-versions/get", params={"name": name, "version": "1"}))["model_version"]
    assert got["run_id"] == GHOST
    graph = ok(api.get("/api/v1/lineage", params={"node": f"model:{name}:1"}))
    run_node = next(n for n in graph["nodes"] if n["id"] == f"run:{GHOST}")
    assert run_node["unresolved"] is True
    assert {"source": f"run:{GHOST}", "target": f"model:{name}:1", "relation": "registered"} in graph["edges"]
    # Sources are still confined to this server's stores, whatever the run.
    for source in ("file:///etc/passwd", f"runs:/{GHOST}/../../etc"):
        body = {"name": name, "source": source, "run_id": GHOST}
        error(post(api, "model-versions/create", body), 400, "INVALID_PARAMETER_VALUE")


def test_a_logged_model_from_a_run_elsewhere_is_kept(api: SyncClient) -> None:
    exp = experiment(api)
    model = ok(post(api, "logged-models", {"experiment_id": exp, "name": "m", "source_run_id": GHOST}))[
        "model"
    ]
    assert model["info"]["source_run_id"] == GHOST
    got = ok(api.get(f"{API}/logged-models/{model['info']['model_id']}"))["model"]
    assert got["info"]["source_run_id"] == GHOST
    error(
        post(api, "logged-models", {"experiment_id": exp, "source_run_id": "a/b"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )


# -- 2. user_id is the user the client declared, else "unknown" --------------------------------


def test_user_id_defaults_to_unknown_not_the_server_principal(api: SyncClient) -> None:
    exp = experiment(api)
    assert new_run(api, exp)["info"]["user_id"] == "unknown"
    assert new_run(api, exp, user_id="unknown")["info"]["user_id"] == "unknown"
    declared = new_run(api, exp, user_id="bob")
    assert declared["info"]["user_id"] == "bob"
    tagged = new_run(api, exp, user_id="unknown", tags=[{"key": "mlflow.user", "value": "carol"}])
    assert tagged["info"]["user_id"] == "carol"
    # Who really made the run stays an audit fact on the native face.
    native = ok(api.get(f"/api/v1/runs/{declared['info']['run_id']}"))
    assert native["created_by"] == "admin"


def test_run_search_by_user_id_matches_the_declared_user(api: SyncClient) -> None:
    exp = experiment(api)
    ids = {
        "bob": new_run(api, exp, user_id="bob")["info"]["run_id"],
        "carol": new_run(api, exp, tags=[{"key": "mlflow.user", "value": "carol"}])["info"]["run_id"],
        "unknown": new_run(api, exp)["info"]["run_id"],
    }

    def found(filter_string: str, order_by: list[str] | None = None) -> list[str]:
        body = {"experiment_ids": [exp], "filter": filter_string, "order_by": order_by or []}
        return [r["info"]["run_id"] for r in ok(post(api, "runs/search", body)).get("runs", [])]

    assert found("attributes.user_id = 'bob'") == [ids["bob"]]
    assert found("attributes.user_id = 'carol'") == [ids["carol"]]
    assert found("attributes.user_id = 'unknown'") == [ids["unknown"]]
    assert sorted(found("attributes.user_id LIKE '%o%'")) == sorted(
        [ids["bob"], ids["carol"], ids["unknown"]]
    )
    assert found("attributes.user_id != 'unknown'", ["attributes.user_id DESC"]) == [ids["carol"], ids["bob"]]
    # The signed-in principal (the admin made all three) no longer matches user_id...
    assert found("attributes.user_id = 'admin'") == []
    # ...it is the native created_by, which both faces can filter on.
    assert len(found("attributes.created_by = 'admin'")) == 3
    native = ok(
        api.request(
            "POST",
            "/api/v1/runs/search",
            json={"experiment_ids": [exp], "filter": "attributes.user_id = 'bob'"},
        )
    )
    assert [r["id"] for r in native["runs"]] == [ids["bob"]]


# -- 3. runs started in the same millisecond: ties broken by run id, ascending ----------------


def test_runs_search_breaks_start_time_ties_by_run_id(api: SyncClient) -> None:
    exp = experiment(api)
    ids = [new_run(api, exp, start_time=1_700_000_000_000)["info"]["run_id"] for _ in range(6)]
    later = new_run(api, exp, start_time=1_700_000_000_001)["info"]["run_id"]
    pages: list[str] = []
    token = None
    while True:
        body: dict[str, Any] = {"experiment_ids": [exp], "max_results": 2}
        if token:
            body["page_token"] = token
        page = ok(post(api, "runs/search", body))
        pages += [r["info"]["run_id"] for r in page["runs"]]
        token = page.get("next_page_token")
        if not token:
            break
    assert pages == [later, *sorted(ids)]
    # With an order_by, still the tie-breaker after it.
    by_name = ok(post(api, "runs/search", {"experiment_ids": [exp], "order_by": ["status ASC"]}))
    assert [r["info"]["run_id"] for r in by_name["runs"]] == [later, *sorted(ids)]


# -- 4. logged-models/search honours datasets --------------------------------------------------


def test_logged_model_search_filters_on_datasets(api: SyncClient) -> None:
    exp = experiment(api)
    run_id = new_run(api, exp)["info"]["run_id"]
    models = {
        name: ok(post(api, "logged-models", {"experiment_id": exp, "name": name}))["model"]["info"][
            "model_id"
        ]
        for name in ("on-iris-a", "on-iris-b", "on-wine", "no-metrics")
    }
    for name, dataset, digest in (
        ("on-iris-a", "iris", "aaa"),
        ("on-iris-b", "iris", "bbb"),
        ("on-wine", "wine", "ccc"),
    ):
        metric = {
            "run_id": run_id, "key": "acc", "value": 0.9, "timestamp": 1, "step": 0,
            "model_id": models[name], "dataset_name": dataset, "dataset_digest": digest,
        }  # fmt: skip
        ok(post(api, "runs/log-metric", metric))

    def names(datasets: list[dict[str, str]]) -> list[str]:
        found = ok(post(api, "logged-models/search", {"experiment_ids": [exp], "datasets": datasets}))
        return sorted(m["info"]["name"] for m in found.get("models", []))

    assert names([]) == ["no-metrics", "on-iris-a", "on-iris-b", "on-wine"]
    assert names([{"dataset_name": "iris"}]) == ["on-iris-a", "on-iris-b"]
    assert names([{"dataset_name": "iris", "dataset_digest": "bbb"}]) == ["on-iris-b"]
    assert names([{"dataset_name": "iris", "dataset_digest": "bbb"}, {"dataset_name": "wine"}]) == [
        "on-iris-b",
        "on-wine",
    ]
    assert names([{"dataset_name": "digits"}]) == []
    message = error(
        post(api, "logged-models/search", {"experiment_ids": [exp], "datasets": [{"dataset_digest": "aaa"}]}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert message == "`dataset_name` in the `datasets` clause must be specified."


# -- 5. get-history-bulk-interval picks MLflow's points ----------------------------------------


def test_bulk_interval_spreads_points_as_mlflow(api: SyncClient) -> None:
    exp = experiment(api)
    runs = [new_run(api, exp)["info"]["run_id"] for _ in range(2)]
    for run_id in runs:
        metrics = [{"key": "loss", "value": 1 / (s + 1), "timestamp": 1000 + s, "step": s} for s in range(10)]
        ok(post(api, "runs/log-batch", {"run_id": run_id, "metrics": metrics}))

    def steps(max_results: int, **extra: Any) -> list[tuple[str, int]]:
        params = {"run_ids": runs, "metric_key": "loss", "max_results": max_results, **extra}
        got = ok(api.get(f"{API}/metrics/get-history-bulk-interval", params=params))["metrics"]
        return [(m["run_id"], m["step"]) for m in got]

    assert steps(5) == [(r, s) for r in runs for s in (0, 2, 4, 6, 9)]
    assert steps(1) == [(r, 9) for r in runs]
    assert steps(3, start_step=2, end_step=8) == [(r, s) for r in runs for s in (2, 5, 8)]
    assert steps(20) == [(r, s) for r in runs for s in range(10)]
    message = error(
        api.get(
            f"{API}/metrics/get-history-bulk-interval",
            params={"run_ids": runs[0], "metric_key": "loss", "start_step": 5, "end_step": 1},
        ),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert message == "end_step must be greater than start_step. Found start_step=5 and end_step=1."


# -- 6. model inputs are stored and returned --------------------------------------------------


def test_model_inputs_are_returned_by_get_and_search(api: SyncClient) -> None:
    exp = experiment(api)
    run_id = new_run(api, exp)["info"]["run_id"]
    model_id = ok(post(api, "logged-models", {"experiment_id": exp}))["model"]["info"]["model_id"]
    elsewhere = "m-" + "ab" * 16  # a model this server does not hold: kept by id, as MLflow keeps it
    dataset = {"name": "iris", "digest": "d1", "source_type": "local", "source": "{}"}
    body = {
        "run_id": run_id,
        "datasets": [{"dataset": dataset, "tags": []}],
        "models": [{"model_id": model_id}, {"model_id": elsewhere}],
    }
    ok(post(api, "runs/log-inputs", body))
    ok(post(api, "runs/log-inputs", {"run_id": run_id, "models": [{"model_id": model_id}]}))  # again: once
    got = ok(api.get(f"{API}/runs/get", params={"run_id": run_id}))["run"]["inputs"]
    assert got["model_inputs"] == sorted([{"model_id": model_id}, {"model_id": elsewhere}], key=str)
    assert [d["dataset"]["name"] for d in got["dataset_inputs"]] == ["iris"]
    found = ok(post(api, "runs/search", {"experiment_ids": [exp]}))["runs"][0]
    assert found["inputs"]["model_inputs"] == got["model_inputs"]
    too_long = {"run_id": run_id, "models": [{"model_id": "m-" + "a" * 70}]}
    error(post(api, "runs/log-inputs", too_long), 400, "INVALID_PARAMETER_VALUE")


# -- 7. error texts are MLflow's on the MLflow API, the native API keeps its own -------------


def test_request_validation_texts_are_mlflows(api: SyncClient) -> None:
    assert error(api.get(f"{API}/runs/get"), 400, "INVALID_PARAMETER_VALUE") == (
        "Missing value for required parameter 'run_id'." + DOCS
    )
    assert error(
        post(api, "runs/log-parameter", {"run_id": 123, "key": "k", "value": "v"}),
        400,
        "INVALID_PARAMETER_VALUE",
    ) == ("Invalid value 123 for parameter 'run_id' supplied:  Hint: Value was of type 'int'." + DOCS)
    assert error(post(api, "experiments/create", {}), 400, "INVALID_PARAMETER_VALUE") == (
        "Missing value for required parameter 'name'." + DOCS
    )


def test_not_found_texts_are_mlflows(api: SyncClient) -> None:
    exp = experiment(api)
    run_id = new_run(api, exp)["info"]["run_id"]
    name = unique("texts")
    ok(post(api, "registered-models/create", {"name": name}))
    cases = [
        (api.get(f"{API}/runs/get", params={"run_id": GHOST}), f"Run with id={GHOST} not found"),
        (
            api.get(f"{API}/experiments/get", params={"experiment_id": "987654"}),
            "No Experiment with id=987654 exists",
        ),
        (
            api.get(f"{API}/experiments/get-by-name", params={"experiment_name": "never made"}),
            "Could not find experiment with name 'never made'",
        ),
        (
            post(api, "runs/delete-tag", {"run_id": run_id, "key": "nope"}),
            f"No tag with name: nope in run with id {run_id}",
        ),
        (
            post(api, "experiments/delete-experiment-tag", {"experiment_id": exp, "key": "nope"}),
            f"No tag with name: nope in experiment with id {exp}",
        ),
        (
            api.get(f"{API}/registered-models/get", params={"name": "nobody"}),
            "Registered Model with name=nobody not found",
        ),
        (
            api.get(f"{API}/model-versions/get", params={"name": name, "version": "7"}),
            f"Model Version (name={name}, version=7) not found",
        ),
        (api.get(f"{API}/logged-models/m-0123abcd"), "Logged model with ID 'm-0123abcd' not found."),
    ]
    for response, text in cases:
        assert error(response, 404, "RESOURCE_DOES_NOT_EXIST") == text
    model_id = ok(post(api, "logged-models", {"experiment_id": exp}))["model"]["info"]["model_id"]
    gone_tag = api.request("DELETE", f"{API}/logged-models/{model_id}/tags/nope")
    assert (
        error(gone_tag, 404, "RESOURCE_DOES_NOT_EXIST")
        == f"No tag with key 'nope' found for model with ID '{model_id}'."
    )
    # The native API keeps its own words and format.
    native = api.get(f"/api/v1/runs/{GHOST}")
    assert native.status_code == 404 and "Run with id" not in native.json()["error"]["message"]


def test_conflict_texts_are_mlflows(api: SyncClient) -> None:
    exp = experiment(api)
    run_id = new_run(api, exp)["info"]["run_id"]
    ok(post(api, "runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.1"}))
    assert error(
        post(api, "runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.2"}),
        400,
        "INVALID_PARAMETER_VALUE",
    ) == (
        f"Changing param values is not allowed. Param with key='lr' was already logged with value='0.1'"
        f" for run ID='{run_id}'. Attempted logging new value '0.2'."
    )
    ok(post(api, "runs/delete", {"run_id": run_id}))
    assert error(
        post(api, "runs/set-tag", {"run_id": run_id, "key": "k", "value": "v"}),
        400,
        "INVALID_PARAMETER_VALUE",
    ) == (f"The run {run_id} must be in the 'active' state. Current state is deleted.")
    ok(post(api, "experiments/delete", {"experiment_id": exp}))
    assert error(post(api, "runs/create", {"experiment_id": exp}), 400, "INVALID_PARAMETER_VALUE") == (
        f"The experiment {exp} must be in the 'active' state. Current state is deleted."
    )
    name = unique("dup")
    ok(post(api, "registered-models/create", {"name": name}))
    assert error(post(api, "registered-models/create", {"name": name}), 400, "RESOURCE_ALREADY_EXISTS") == (
        f"Registered Model (name={name}) already exists."
    )
    exp_name = unique("dup-exp")
    ok(post(api, "experiments/create", {"name": exp_name}))
    assert error(post(api, "experiments/create", {"name": exp_name}), 400, "RESOURCE_ALREADY_EXISTS") == (
        f"Experiment(name={exp_name}) already exists."
    )


def test_batch_limit_texts_are_mlflows(api: SyncClient) -> None:
    run_id = new_run(api, experiment(api))["info"]["run_id"]
    params = [{"key": f"p{i}", "value": "v"} for i in range(101)]
    assert error(
        post(api, "runs/log-batch", {"run_id": run_id, "params": params}), 400, "INVALID_PARAMETER_VALUE"
    ) == (
        "A batch logging request can contain at most 100 params. Got 101 params."
        " Please split up params across multiple requests and try again."
    )
    many = {
        "run_id": run_id,
        "metrics": [{"key": "m", "value": 1.0, "timestamp": 1, "step": i} for i in range(950)],
        "tags": [{"key": f"t{i}", "value": "v"} for i in range(60)],
    }
    assert error(post(api, "runs/log-batch", many), 400, "INVALID_PARAMETER_VALUE") == (
        "A batch logging request can contain at most 1000 metrics, params, and tags."
        " Got 1010 metrics, params, and tags."
        " Please split up metrics, params, and tags across multiple requests and try again."
    )


def test_registry_deletes_of_absent_tags_and_aliases_succeed_as_in_mlflow(api: SyncClient) -> None:
    name = unique("absent")
    ok(post(api, "registered-models/create", {"name": name}))
    ok(post(api, "model-versions/create", {"name": name, "source": f"runs:/{GHOST}/model", "run_id": GHOST}))
    ok(api.request("DELETE", f"{API}/registered-models/delete-tag", json={"name": name, "key": "nope"}))
    ok(
        api.request(
            "DELETE", f"{API}/model-versions/delete-tag", json={"name": name, "version": "1", "key": "nope"}
        )
    )
    ok(api.request("DELETE", f"{API}/registered-models/alias", json={"name": name, "alias": "nope"}))
    # An alias that is not there is a 400 on MLflow, and an unknown model still a 404.
    missing = api.get(f"{API}/registered-models/alias", params={"name": name, "alias": "nope"})
    assert error(missing, 400, "INVALID_PARAMETER_VALUE") == "Registered model alias nope not found."
    nobody = api.request("DELETE", f"{API}/registered-models/delete-tag", json={"name": "nobody", "key": "k"})
    assert error(nobody, 404, "RESOURCE_DOES_NOT_EXIST") == "Registered Model with name=nobody not found"
