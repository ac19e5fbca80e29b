"""MLflow 3's GenAI routes in-process (issue 18): evaluation datasets, scorers, issues and the
AI gateway's configuration — bad input answered with MLflow's codes and texts, a gateway
secret never answered in full, a call that would reach a provider refused at once.

The real ``mlflow`` client drives the same routes in tests/e2e/mlflow/test_genai_datasets_scorers.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from shipyard.settings import Settings
from tests.conftest import ADMIN_TOKEN, AUTH
from tests.integration.test_access_matrix import SyncClient, in_process

V3 = "/api/3.0/mlflow"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return tmp_path_factory.mktemp("genai")


@pytest.fixture(scope="module")
def api(home: Any) -> Iterator[SyncClient]:
    settings = Settings(home=home, roles="api", admin_token=ADMIN_TOKEN)
    with in_process(settings, AUTH) as client:
        yield client


def _experiment(api: SyncClient, name: str) -> str:
    made = api.request("POST", "/api/2.0/mlflow/experiments/create", json={"name": name})
    assert made.status_code == 200, made.text
    return str(made.json()["experiment_id"])


def _error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code, body
    return str(body["message"])


# -- evaluation datasets ------------------------------------------------------------------


def test_an_unknown_dataset_answers_mlflows_code_and_text(api: SyncClient) -> None:
    message = _error(api.get(f"{V3}/datasets/d-nope"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert message == "Evaluation dataset with id 'd-nope' not found"
    upsert = api.request("POST", f"{V3}/datasets/d-nope/records", json={"records": "[]"})
    _error(upsert, 404, "RESOURCE_DOES_NOT_EXIST")
    # As MLflow: deleting what is not there is no error.
    assert api.request("DELETE", f"{V3}/datasets/d-nope").status_code == 200


def test_records_merge_by_inputs_and_page(api: SyncClient) -> None:
    experiment_id = _experiment(api, "genai-merge")
    made = api.request(
        "POST",
        f"{V3}/datasets/create",
        json={"name": "qa", "experiment_ids": [experiment_id], "tags": json.dumps({"team": "nlp"})},
    )
    assert made.status_code == 200, made.text
    dataset = made.json()["dataset"]
    assert dataset["experiment_ids"] == [experiment_id] and json.loads(dataset["tags"]) == {"team": "nlp"}
    records = [
        {"inputs": {"q": f"question {i}"}, "expectations": {"answer": f"a{i}"}, "tags": {"round": "1"}}
        for i in range(5)
    ]
    url = f"{V3}/datasets/{dataset['dataset_id']}/records"
    first = api.request("POST", url, json={"records": json.dumps(records)}).json()
    assert first == {"inserted_count": 5, "updated_count": 0}
    again = [
        {"inputs": {"q": "question 0"}, "expectations": {"score": 1}, "tags": {"round": "2"}},
        {"inputs": {"q": "question 9"}},
    ]
    second = api.request("POST", url, json={"records": json.dumps(again)}).json()
    assert second == {"inserted_count": 1, "updated_count": 1}

    seen: list[dict[str, Any]] = []
    token = None
    while True:
        params: dict[str, Any] = {"max_results": 2}
        if token:
            params["page_token"] = token
        page = api.get(url, params=params).json()
        seen.extend(json.loads(page["records"]))
        token = page.get("next_page_token")
        if not token:
            break
    assert len(seen) == 6 and len({r["dataset_record_id"] for r in seen}) == 6
    merged = next(r for r in seen if r["inputs"] == {"q": "question 0"})
    assert merged["expectations"] == {"answer": "a0", "score": 1}  # merged key by key
    assert merged["tags"] == {"round": "2"}
    assert merged["source_type"] == "UNSPECIFIED"
    got = api.get(f"{V3}/datasets/{dataset['dataset_id']}").json()["dataset"]
    assert json.loads(got["profile"]) == {"num_records": 6}
    assert set(json.loads(got["schema"])["inputs"]) == {"q"}


@pytest.mark.parametrize(
    ("records", "says"),
    [
        ("not json", "must be JSON text"),
        (json.dumps({"inputs": {}}), "holding a list"),
        (json.dumps([{"expectations": {"a": 1}}]), "records[0] must have an 'inputs' object"),
        (json.dumps([{"inputs": {"q": 1}}, "x"]), "records[1] must be an object"),
        (
            json.dumps([{"inputs": {"q": 1}, "source": {"source_type": "ROBOT"}}]),
            "Invalid dataset record source type",
        ),
    ],
)
def test_a_bad_record_is_a_400_and_writes_nothing(api: SyncClient, records: str, says: str) -> None:
    dataset = api.request("POST", f"{V3}/datasets/create", json={"name": f"bad-{time.time_ns()}"}).json()[
        "dataset"
    ]
    url = f"{V3}/datasets/{dataset['dataset_id']}/records"
    # A good record before the bad one is not kept either: one transaction.
    message = _error(api.request("POST", url, json={"records": records}), 400, "INVALID_PARAMETER_VALUE")
    assert says in message
    assert json.loads(api.get(url).json()["records"]) == []


def test_dataset_search_filters_orders_and_pages(api: SyncClient) -> None:
    suffix = time.time_ns()
    for name, env in (("alpha", "prod"), ("beta", "dev"), ("gamma", "prod")):
        api.request(
            "POST",
            f"{V3}/datasets/create",
            json={"name": f"s{suffix}-{name}", "tags": json.dumps({"env": env})},
        )
    body = {"filter_string": f"name LIKE 's{suffix}-%' AND tags.env = 'prod'", "order_by": ["name DESC"]}
    found = api.request("POST", f"{V3}/datasets/search", json=body).json()["datasets"]
    assert [d["name"] for d in found] == [f"s{suffix}-gamma", f"s{suffix}-alpha"]
    first = api.request("POST", f"{V3}/datasets/search", json={**body, "max_results": 1}).json()
    second = api.request(
        "POST",
        f"{V3}/datasets/search",
        json={**body, "max_results": 1, "page_token": first["next_page_token"]},
    ).json()
    assert [d["name"] for d in first["datasets"] + second["datasets"]] == [d["name"] for d in found]
    for unknown in (["abc"], ["99999999999999999999"], ["424242"]):
        nothing = api.request("POST", f"{V3}/datasets/search", json={"experiment_ids": unknown})
        assert nothing.status_code == 200 and nothing.json()["datasets"] == []
    bad = api.request("POST", f"{V3}/datasets/search", json={"filter_string": "colour = 'red'"})
    assert "unknown dataset attribute 'colour'" in _error(bad, 400, "INVALID_PARAMETER_VALUE")


def test_a_dataset_links_only_experiments_of_its_workspace(api: SyncClient) -> None:
    made = api.request("POST", f"{V3}/datasets/create", json={"name": "links", "experiment_ids": ["987654"]})
    assert _error(made, 404, "RESOURCE_DOES_NOT_EXIST") == "No Experiment with id=987654 exists"


# -- scorers and issues -------------------------------------------------------------------


def test_scorers_keep_versions_and_are_never_run(api: SyncClient) -> None:
    experiment_id = _experiment(api, "genai-scorers")
    serialized = json.dumps({"name": "relevance", "call_source": "def relevance(outputs): return 1"})
    for _ in range(2):
        made = api.request(
            "POST",
            f"{V3}/scorers/register",
            json={"experiment_id": experiment_id, "name": "relevance", "serialized_scorer": serialized},
        )
        assert made.status_code == 200, made.text
    assert made.json()["version"] == 2
    listed = api.get(f"{V3}/scorers/list", params={"experiment_id": experiment_id}).json()["scorers"]
    assert [(s["scorer_name"], s["scorer_version"]) for s in listed] == [("relevance", 2)]
    assert listed[0]["serialized_scorer"] == serialized  # as sent, untouched
    missing = api.get(f"{V3}/scorers/get", params={"experiment_id": experiment_id, "name": "nope"})
    assert _error(missing, 404, "RESOURCE_DOES_NOT_EXIST") == (
        f"Scorer with name 'nope' not found for experiment {experiment_id}."
    )
    gone = api.request(
        "DELETE",
        f"{V3}/scorers/delete",
        json={"experiment_id": experiment_id, "name": "relevance", "version": 1},
    )
    assert gone.status_code == 200
    left = api.get(f"{V3}/scorers/versions", params={"experiment_id": experiment_id, "name": "relevance"})
    assert [s["scorer_version"] for s in left.json()["scorers"]] == [2]


def test_issues_crud(api: SyncClient) -> None:
    experiment_id = _experiment(api, "genai-issues")
    made = api.request(
        "POST",
        f"{V3}/issues",
        json={
            "experiment_id": experiment_id,
            "name": "hallucination",
            "description": "made-up facts",
            "severity": "high",
        },
    ).json()["issue"]
    assert made["status"] == "pending" and made["severity"] == "high"
    changed = api.request("PATCH", f"{V3}/issues/{made['issue_id']}", json={"status": "resolved"}).json()[
        "issue"
    ]
    assert changed["status"] == "resolved" and changed["name"] == "hallucination"
    found = api.request("POST", f"{V3}/issues/search", json={"experiment_id": experiment_id}).json()["issues"]
    assert [i["issue_id"] for i in found] == [made["issue_id"]]
    bad = api.request("PATCH", f"{V3}/issues/{made['issue_id']}", json={"status": "closed"})
    assert "issue status must be one of" in _error(bad, 400, "INVALID_PARAMETER_VALUE")
    assert (
        _error(api.get(f"{V3}/issues/iss-none"), 404, "RESOURCE_DOES_NOT_EXIST")
        == "Issue with ID 'iss-none' not found"
    )


# -- the gateway --------------------------------------------------------------------------


def test_a_gateway_secret_is_never_answered_in_full(api: SyncClient, home: Any) -> None:
    value = "sk-test-0123456789abcdefSECRETTAIL"
    made = api.request(
        "POST",
        f"{V3}/gateway/secrets/create",
        json={"secret_name": "openai-key", "secret_value": {"api_key": value}, "provider": "openai"},
    )
    assert made.status_code == 200, made.text
    secret = made.json()["secret"]
    assert secret["masked_values"] == {"api_key": "sk-...TAIL"}
    answers = [
        made.text,
        api.get(f"{V3}/gateway/secrets/get", params={"secret_id": secret["secret_id"]}).text,
        api.get(f"{V3}/gateway/secrets/list").text,
        api.get("/api/v1/secrets").text,
    ]
    assert all(value not in a and "0123456789abcdef" not in a for a in answers)
    # Stored through the workspace's secrets store: listed by name, encrypted at rest.
    assert "MLFLOW_GATEWAY_" in answers[-1]
    engine = create_engine(f"sqlite:///{home}/shipyard.db")
    try:
        with engine.connect() as conn:
            dump = "\n".join(
                str(row)
                for table in ("secrets", "gateway_secrets")
                for row in conn.execute(text(f"SELECT * FROM {table}"))
            )
    finally:
        engine.dispose()
    assert "openai-key" in dump and value not in dump and "0123456789abcdef" not in dump
    again = api.request(
        "POST",
        f"{V3}/gateway/secrets/create",
        json={"secret_name": "openai-key", "secret_value": {"api_key": "x" * 9}},
    )
    assert _error(again, 400, "RESOURCE_ALREADY_EXISTS") == "Secret with name 'openai-key' already exists"


def test_gateway_models_and_endpoints_are_stored(api: SyncClient) -> None:
    secret = api.request(
        "POST",
        f"{V3}/gateway/secrets/create",
        json={"secret_name": "anthropic", "secret_value": {"api_key": "k" * 20}},
    ).json()["secret"]
    model = api.request(
        "POST",
        f"{V3}/gateway/model-definitions/create",
        json={
            "name": "claude",
            "secret_id": secret["secret_id"],
            "provider": "anthropic",
            "model_name": "claude-x",
        },
    ).json()["model_definition"]
    assert model["secret_name"] == "anthropic"
    endpoint = api.request(
        "POST",
        f"{V3}/gateway/endpoints/create",
        json={
            "name": "chat",
            "model_configs": [
                {
                    "model_definition_id": model["model_definition_id"],
                    "linkage_type": "PRIMARY",
                    "weight": 1.0,
                }
            ],
        },
    ).json()["endpoint"]
    assert endpoint["model_mappings"][0]["model_definition"]["model_name"] == "claude-x"
    in_use = api.request(
        "DELETE",
        f"{V3}/gateway/model-definitions/delete",
        json={"model_definition_id": model["model_definition_id"]},
    )
    assert "in use by endpoints" in _error(in_use, 400, "INVALID_PARAMETER_VALUE")
    listed = api.get(f"{V3}/gateway/endpoints/list", params={"provider": "anthropic"}).json()["endpoints"]
    assert [e["name"] for e in listed] == ["chat"]
    providers = api.get("/ajax-api/3.0/mlflow/gateway/supported-providers").json()["providers"]
    assert "openai" in providers and "anthropic" in providers
    missing = api.get(f"{V3}/gateway/endpoints/get", params={"endpoint_id": "e-none"})
    assert (
        _error(missing, 404, "RESOURCE_DOES_NOT_EXIST") == "GatewayEndpoint not found (endpoint_id='e-none')"
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/gateway/chat/mlflow/invocations"),
        ("POST", "/gateway/mlflow/v1/chat/completions"),
        ("GET", "/gateway/mlflow/v1/models"),
        ("POST", "/ajax-api/3.0/mlflow/scorer/invoke"),
        ("POST", "/ajax-api/3.0/mlflow/issues/invoke"),
    ],
)
def test_a_provider_call_is_refused_at_once(api: SyncClient, method: str, path: str) -> None:
    started = time.monotonic()
    response = api.request(method, path, json={"messages": [{"role": "user", "content": "hi"}]})
    assert time.monotonic() - started < 2
    assert "does not call outside model providers" in _error(response, 400, "NOT_IMPLEMENTED")


def test_gateway_traffic_needs_a_principal_and_is_refused_in_mlflows_shape(api: SyncClient) -> None:
    anonymous = api.request(
        "POST", "/gateway/chat/mlflow/invocations", json={}, headers={"Authorization": ""}
    )
    assert _error(anonymous, 401, "UNAUTHENTICATED")


def test_genai_records_stay_in_their_workspace(api: SyncClient) -> None:
    dataset = api.request("POST", f"{V3}/datasets/create", json={"name": "mine"}).json()["dataset"]
    secret = api.request(
        "POST",
        f"{V3}/gateway/secrets/create",
        json={"secret_name": "ws-key", "secret_value": {"api_key": "k" * 12}},
    ).json()["secret"]
    other = {"Shipyard-Workspace": "elsewhere"}
    missing = api.get(f"{V3}/datasets/{dataset['dataset_id']}", headers=other)
    _error(missing, 404, "RESOURCE_DOES_NOT_EXIST")
    found = api.request("POST", f"{V3}/datasets/search", json={}, headers=other).json()["datasets"]
    assert dataset["dataset_id"] not in {d["dataset_id"] for d in found}
    secrets = api.get(f"{V3}/gateway/secrets/list", headers=other).json().get("secrets", [])
    assert secret["secret_id"] not in {s["secret_id"] for s in secrets}
