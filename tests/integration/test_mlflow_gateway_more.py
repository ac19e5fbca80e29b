"""The rest of MLflow 3.17's gateway configuration in-process, on SQLite and PostgreSQL:
endpoint tags and bindings, budget policies and their windows, guardrails on endpoints, the
forms' helper routes, and scorers' online configurations — MLflow's shapes and error codes,
bad input a 400 that writes nothing, and nothing left pointing at what was deleted.

None of it is enforced (the server calls no provider); these tests check what is stored."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from shipyard.settings import Settings
from tests.conftest import ADMIN_TOKEN, AUTH, fresh_pg_database
from tests.integration.test_access_matrix import SyncClient, in_process

V3 = "/api/3.0/mlflow"
GW = f"{V3}/gateway"
JUDGE = json.dumps(
    {
        "name": "safety",
        "instructions_judge_pydantic_data": {
            "model": "gateway:/judge",
            "instructions": "Is {{ outputs }} safe?",
        },
    }
)
OPENAI_JUDGE = json.dumps(
    {"name": "tone", "instructions_judge_pydantic_data": {"model": "openai:/gpt-4o", "instructions": "x"}}
)
CODE = json.dumps({"name": "length", "call_source": "return len(outputs)", "original_func_name": "length"})


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("gateway-more")
    if request.param == "sqlite":
        yield f"sqlite:///{home / 'shipyard.db'}"
        return
    with fresh_pg_database() as url:
        yield url


@pytest.fixture(scope="module")
def api(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SyncClient]:
    home = tmp_path_factory.mktemp("gateway-more-home")
    settings = Settings(home=home, database_url=database, roles="api", admin_token=ADMIN_TOKEN)
    with in_process(settings, AUTH) as client:
        yield client


def _error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code, body
    return str(body["message"])


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _endpoint(api: SyncClient, name: str) -> str:
    made = _ok(api.request("POST", f"{GW}/endpoints/create", json={"name": f"{name}-{uuid.uuid4().hex[:6]}"}))
    return str(made["endpoint"]["endpoint_id"])


def _experiment(api: SyncClient) -> str:
    made = api.request("POST", "/api/2.0/mlflow/experiments/create", json={"name": f"gw-{uuid.uuid4().hex}"})
    return str(_ok(made)["experiment_id"])


def _scorer(api: SyncClient, experiment_id: str, name: str, serialized: str) -> dict[str, Any]:
    body = {"experiment_id": experiment_id, "name": name, "serialized_scorer": serialized}
    return _ok(api.request("POST", f"{V3}/scorers/register", json=body))


# -- endpoint tags ------------------------------------------------------------------------


def test_endpoint_tags_are_set_replaced_and_deleted(api: SyncClient) -> None:
    endpoint_id = _endpoint(api, "tags")
    for value in ("a", "b"):
        _ok(
            api.request(
                "POST",
                f"{GW}/endpoints/set-tag",
                json={"endpoint_id": endpoint_id, "key": "team", "value": value},
            )
        )
    got = _ok(api.get(f"{GW}/endpoints/get", params={"endpoint_id": endpoint_id}))["endpoint"]
    assert got["tags"] == [{"key": "team", "value": "b"}]
    for _ in range(2):  # a key already gone is no error, as MLflow
        gone = api.request(
            "DELETE", f"{GW}/endpoints/delete-tag", json={"endpoint_id": endpoint_id, "key": "team"}
        )
        _ok(gone)
    assert _ok(api.get(f"{GW}/endpoints/get", params={"endpoint_id": endpoint_id}))["endpoint"]["tags"] == []
    missing = api.request(
        "POST", f"{GW}/endpoints/set-tag", json={"endpoint_id": "e-none", "key": "k", "value": "v"}
    )
    _error(missing, 404, "RESOURCE_DOES_NOT_EXIST")
    no_key = api.request("POST", f"{GW}/endpoints/set-tag", json={"endpoint_id": endpoint_id, "value": "v"})
    assert "'key'" in _error(no_key, 400, "INVALID_PARAMETER_VALUE")
    too_long = {"endpoint_id": endpoint_id, "key": "k", "value": "v" * 5001}
    _error(api.request("POST", f"{GW}/endpoints/set-tag", json=too_long), 400, "INVALID_PARAMETER_VALUE")


# -- bindings -----------------------------------------------------------------------------


def test_bindings_are_unique_filtered_and_go_with_their_endpoint_or_scorer(api: SyncClient) -> None:
    endpoint_id = _endpoint(api, "bound")
    experiment_id = _experiment(api)
    scorer = _scorer(api, experiment_id, "safety", JUDGE)
    body = {"endpoint_id": endpoint_id, "resource_type": "scorer", "resource_id": scorer["scorer_id"]}
    made = _ok(api.request("POST", f"{GW}/endpoints/bindings/create", json=body))["binding"]
    assert made["resource_id"] == scorer["scorer_id"] and made["created_by"] == "admin"
    again = api.request("POST", f"{GW}/endpoints/bindings/create", json=body)
    _error(again, 400, "RESOURCE_ALREADY_EXISTS")
    bad_type = api.request("POST", f"{GW}/endpoints/bindings/create", json={**body, "resource_type": "job"})
    assert "resource_type" in _error(bad_type, 400, "INVALID_PARAMETER_VALUE")
    unknown = api.request("POST", f"{GW}/endpoints/bindings/create", json={**body, "endpoint_id": "e-none"})
    _error(unknown, 404, "RESOURCE_DOES_NOT_EXIST")
    other = {**body, "resource_id": "another-scorer"}
    _ok(api.request("POST", f"{GW}/endpoints/bindings/create", json=other))

    listed = _ok(api.get(f"{GW}/endpoints/bindings/list", params={"endpoint_id": endpoint_id}))["bindings"]
    assert sorted(b["resource_id"] for b in listed) == sorted([scorer["scorer_id"], "another-scorer"])
    by_resource = _ok(api.get(f"{GW}/endpoints/bindings/list", params={"resource_id": "another-scorer"}))
    assert [b["endpoint_id"] for b in by_resource["bindings"]] == [endpoint_id]

    _ok(api.request("DELETE", f"{GW}/endpoints/bindings/delete", json=other))
    _error(
        api.request("DELETE", f"{GW}/endpoints/bindings/delete", json=other), 404, "RESOURCE_DOES_NOT_EXIST"
    )

    # Deleting the scorer (every version) drops its bindings, as MLflow's delete_scorer does.
    _ok(
        api.request("DELETE", f"{V3}/scorers/delete", json={"experiment_id": experiment_id, "name": "safety"})
    )
    assert _ok(api.get(f"{GW}/endpoints/bindings/list", params={"endpoint_id": endpoint_id})) == {
        "bindings": []
    }

    # Deleting the endpoint drops the rest.
    _ok(api.request("POST", f"{GW}/endpoints/bindings/create", json=other))
    _ok(api.request("DELETE", f"{GW}/endpoints/delete", json={"endpoint_id": endpoint_id}))
    assert _ok(api.get(f"{GW}/endpoints/bindings/list", params={"resource_id": "another-scorer"})) == {
        "bindings": []
    }


# -- budget policies ----------------------------------------------------------------------


def _budget(api: SyncClient, **fields: Any) -> httpx.Response:
    body = {
        "budget_unit": "USD",
        "budget_amount": 100.0,
        "duration": {"unit": "DAYS", "value": 1},
        "target_scope": "GLOBAL",
        "budget_action": "ALERT",
        **fields,
    }
    return api.request("POST", f"{GW}/budgets/create", json=body)


def test_a_budget_policy_round_trips_in_mlflows_shape(api: SyncClient) -> None:
    made = _ok(_budget(api, budget_amount=25.5, budget_action="REJECT"))["budget_policy"]
    assert made["budget_policy_id"].startswith("bp-")
    assert (made["budget_unit"], made["budget_amount"], made["duration"]) == (
        "USD",
        25.5,
        {"unit": "DAYS", "value": 1},
    )
    assert (made["target_scope"], made["budget_action"], made["created_by"]) == ("GLOBAL", "REJECT", "admin")
    assert "target_value" not in made
    got = _ok(api.get(f"{GW}/budgets/get", params={"budget_policy_id": made["budget_policy_id"]}))
    assert got["budget_policy"] == made
    by_number = _ok(
        _budget(api, budget_unit=1, target_scope=2, budget_action=1, duration={"unit": 4, "value": 2})
    )
    assert (by_number["budget_policy"]["target_scope"], by_number["budget_policy"]["duration"]["unit"]) == (
        "WORKSPACE",
        "WEEKS",
    )


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"budget_unit": "EUR"}, "budget_unit"),
        ({"budget_unit": "BUDGET_UNIT_UNSPECIFIED"}, "budget_unit"),
        ({"budget_amount": -1}, "budget_amount"),
        ({"budget_amount": "lots"}, "budget_amount"),
        ({"duration": {"unit": "DAYS", "value": 0}}, "duration.value"),
        ({"duration": {"unit": "YEARS", "value": 1}}, "duration.unit"),
        ({"duration": {"unit": "DAYS", "value": 2**40}}, "duration.value"),
        ({"target_scope": "ENDPOINT"}, "target_value is required"),
        ({"target_scope": "USER", "target_value": ""}, "target_value is required"),
        ({"target_value": "someone"}, "can only be set"),
        ({"budget_action": "EMAIL"}, "budget_action"),
        ({"budget_action": None}, "budget_action"),
    ],
)
def test_a_bad_budget_policy_is_a_400_and_writes_nothing(
    api: SyncClient, fields: dict[str, Any], says: str
) -> None:
    before = _ok(api.get(f"{GW}/budgets/list"))["budget_policies"]
    assert says in _error(_budget(api, **fields), 400, "INVALID_PARAMETER_VALUE")
    assert _ok(api.get(f"{GW}/budgets/list"))["budget_policies"] == before


def test_a_missing_budget_field_is_mlflows_missing_value(api: SyncClient) -> None:
    response = api.request("POST", f"{GW}/budgets/create", json={"budget_unit": "USD", "budget_amount": 1})
    assert "Missing value for required parameter" in _error(response, 400, "INVALID_PARAMETER_VALUE")


def test_an_endpoint_budget_names_an_endpoint_that_exists(api: SyncClient) -> None:
    unknown = _budget(api, target_scope="ENDPOINT", target_value="e-none")
    _error(unknown, 404, "RESOURCE_DOES_NOT_EXIST")
    endpoint_id = _endpoint(api, "capped")
    made = _ok(_budget(api, target_scope="ENDPOINT", target_value=endpoint_id))["budget_policy"]
    assert made["target_value"] == endpoint_id
    user = _ok(_budget(api, target_scope="USER", target_value="alice"))["budget_policy"]
    assert (user["target_scope"], user["target_value"]) == ("USER", "alice")


def test_a_budget_update_changes_only_what_is_sent(api: SyncClient) -> None:
    made = _ok(_budget(api, target_scope="USER", target_value="bob"))["budget_policy"]
    policy_id = made["budget_policy_id"]
    changed = _ok(
        api.request("POST", f"{GW}/budgets/update", json={"budget_policy_id": policy_id, "budget_amount": 7})
    )
    assert changed["budget_policy"]["budget_amount"] == 7
    assert changed["budget_policy"]["target_value"] == "bob"  # kept within its scope
    # A new targeted scope needs a new target: the old one is a user name, not an endpoint id.
    switch = {"budget_policy_id": policy_id, "target_scope": "ENDPOINT"}
    assert "target_value is required" in _error(
        api.request("POST", f"{GW}/budgets/update", json=switch), 400, "INVALID_PARAMETER_VALUE"
    )
    assert (
        _ok(api.get(f"{GW}/budgets/get", params={"budget_policy_id": policy_id}))["budget_policy"][
            "target_scope"
        ]
        == "USER"
    )
    to_global = _ok(
        api.request(
            "POST", f"{GW}/budgets/update", json={"budget_policy_id": policy_id, "target_scope": "GLOBAL"}
        )
    )
    assert "target_value" not in to_global["budget_policy"]
    bad = {"budget_policy_id": policy_id, "duration": {"unit": "HOURS", "value": -3}}
    _error(api.request("POST", f"{GW}/budgets/update", json=bad), 400, "INVALID_PARAMETER_VALUE")
    missing = {"budget_policy_id": "bp-none", "budget_amount": 1}
    assert _error(
        api.request("POST", f"{GW}/budgets/update", json=missing), 404, "RESOURCE_DOES_NOT_EXIST"
    ) == ("BudgetPolicy not found (budget_policy_id='bp-none')")


def test_budgets_page_and_their_windows_spend_nothing(api: SyncClient) -> None:
    made = _ok(_budget(api, duration={"unit": "HOURS", "value": 6}))["budget_policy"]
    seen: list[str] = []
    token = None
    while True:
        params: dict[str, Any] = {"max_results": 2, **({"page_token": token} if token else {})}
        page = _ok(api.get(f"{GW}/budgets/list", params=params))
        seen.extend(p["budget_policy_id"] for p in page["budget_policies"])
        token = page.get("next_page_token")
        if not token:
            break
    assert made["budget_policy_id"] in seen and len(seen) == len(set(seen)) and seen == sorted(seen)
    bad_token = api.get(f"{GW}/budgets/list", params={"page_token": "nope"})
    _error(bad_token, 400, "INVALID_PARAMETER_VALUE")
    _error(api.get(f"{GW}/budgets/list", params={"max_results": -1}), 400, "INVALID_PARAMETER_VALUE")

    now = time.time() * 1000
    windows = {w["budget_policy_id"]: w for w in _ok(api.get(f"{GW}/budgets/windows"))["windows"]}
    assert set(windows) == set(seen)
    window = windows[made["budget_policy_id"]]
    six_hours = 6 * 3600 * 1000
    assert window["window_end_ms"] - window["window_start_ms"] == six_hours
    assert window["window_start_ms"] % six_hours == 0  # aligned on the epoch, as MLflow's
    assert window["window_start_ms"] <= now < window["window_end_ms"]
    assert window["current_spend"] == 0

    _ok(api.request("DELETE", f"{GW}/budgets/delete", json={"budget_policy_id": made["budget_policy_id"]}))
    gone = api.get(f"{GW}/budgets/get", params={"budget_policy_id": made["budget_policy_id"]})
    _error(gone, 404, "RESOURCE_DOES_NOT_EXIST")
    again = api.request("DELETE", f"{GW}/budgets/delete", json={"budget_policy_id": made["budget_policy_id"]})
    _error(again, 404, "RESOURCE_DOES_NOT_EXIST")


def test_budgets_stay_in_their_workspace(api: SyncClient) -> None:
    made = _ok(_budget(api))["budget_policy"]
    other = {"Shipyard-Workspace": "elsewhere-budgets"}
    found = api.get(f"{GW}/budgets/get", params={"budget_policy_id": made["budget_policy_id"]}, headers=other)
    _error(found, 404, "RESOURCE_DOES_NOT_EXIST")
    assert _ok(api.get(f"{GW}/budgets/list", headers=other)).get("budget_policies", []) == []


# -- guardrails ---------------------------------------------------------------------------


def _guardrail(api: SyncClient, scorer: dict[str, Any], **fields: Any) -> httpx.Response:
    body = {
        "name": "no-pii",
        "scorer_id": scorer["scorer_id"],
        "scorer_version": scorer["version"],
        "stage": "BEFORE",
        "action": "VALIDATION",
        **fields,
    }
    return api.request("POST", f"{GW}/guardrails/create", json=body)


def test_a_guardrail_carries_its_scorer_and_refuses_bad_input(api: SyncClient) -> None:
    experiment_id = _experiment(api)
    judge = _scorer(api, experiment_id, "safety", JUDGE)
    made = _ok(_guardrail(api, judge))["guardrail"]
    assert made["guardrail_id"].startswith("gr-")
    assert (made["stage"], made["action"], made["created_by"]) == ("BEFORE", "VALIDATION", "admin")
    assert made["scorer"]["scorer_name"] == "safety" and made["scorer"]["serialized_scorer"] == JUDGE
    assert (
        _ok(api.get(f"{GW}/guardrails/get", params={"guardrail_id": made["guardrail_id"]}))["guardrail"]
        == made
    )

    before = _ok(api.get(f"{GW}/guardrails/list"))["guardrails"]
    code = _scorer(api, experiment_id, "length", CODE)
    assert "@scorer" in _error(_guardrail(api, code), 400, "INVALID_PARAMETER_VALUE")
    _error(_guardrail(api, {**judge, "version": 9}), 404, "RESOURCE_DOES_NOT_EXIST")
    _error(_guardrail(api, {**judge, "scorer_id": "nope"}), 404, "RESOURCE_DOES_NOT_EXIST")
    _error(_guardrail(api, judge, stage="DURING"), 400, "INVALID_PARAMETER_VALUE")
    _error(_guardrail(api, judge, action="BLOCK"), 400, "INVALID_PARAMETER_VALUE")
    _error(_guardrail(api, judge, action_endpoint_id="e-none"), 404, "RESOURCE_DOES_NOT_EXIST")
    _error(_guardrail(api, judge, name=""), 400, "INVALID_PARAMETER_VALUE")
    assert _ok(api.get(f"{GW}/guardrails/list"))["guardrails"] == before  # nothing half-written

    other = {"Shipyard-Workspace": "elsewhere-guardrails"}
    hidden = api.get(f"{GW}/guardrails/get", params={"guardrail_id": made["guardrail_id"]}, headers=other)
    _error(hidden, 404, "RESOURCE_DOES_NOT_EXIST")
    # A scorer of another workspace cannot be borrowed.
    borrowed = {
        "name": "b",
        "scorer_id": judge["scorer_id"],
        "scorer_version": 1,
        "stage": "AFTER",
        "action": "VALIDATION",
    }
    _error(
        api.request("POST", f"{GW}/guardrails/create", json=borrowed, headers=other),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )


def test_guardrails_on_an_endpoint_keep_their_order_and_go_with_either(api: SyncClient) -> None:
    experiment_id = _experiment(api)
    judge = _scorer(api, experiment_id, "safety", JUDGE)
    endpoint_id = _endpoint(api, "guarded")
    actor = _endpoint(api, "actor")
    first = _ok(_guardrail(api, judge, name="first", action_endpoint_id=actor))["guardrail"]
    second = _ok(_guardrail(api, judge, name="second", stage="AFTER", action="SANITIZATION"))["guardrail"]
    third = _ok(_guardrail(api, judge, name="third"))["guardrail"]
    assert first["action_endpoint_id"].startswith("actor-")  # MLflow answers the endpoint's name here

    def add(guardrail: dict[str, Any], order: int | None) -> httpx.Response:
        body: dict[str, Any] = {"endpoint_id": endpoint_id, "guardrail_id": guardrail["guardrail_id"]}
        if order is not None:
            body["execution_order"] = order
        return api.request("POST", f"{GW}/guardrails/add-to-endpoint", json=body)

    config = _ok(add(third, None))["config"]
    assert config["guardrail"]["name"] == "third" and "execution_order" not in config
    _ok(add(second, 2))
    _ok(add(first, 5))
    _error(add(first, 1), 400, "RESOURCE_ALREADY_EXISTS")
    _error(add({"guardrail_id": "gr-none"}, 1), 404, "RESOURCE_DOES_NOT_EXIST")
    bad_order = {"endpoint_id": endpoint_id, "guardrail_id": second["guardrail_id"], "execution_order": 2**40}
    _error(
        api.request("POST", f"{GW}/guardrails/add-to-endpoint", json=bad_order),
        400,
        "INVALID_PARAMETER_VALUE",
    )

    def order() -> list[tuple[str, int | None]]:
        configs = _ok(api.get(f"{GW}/guardrails/list-for-endpoint", params={"endpoint_id": endpoint_id}))[
            "configs"
        ]
        return [(c["guardrail"]["name"], c.get("execution_order")) for c in configs]

    assert order() == [("second", 2), ("first", 5), ("third", None)]
    moved = {"endpoint_id": endpoint_id, "guardrail_id": first["guardrail_id"], "execution_order": 1}
    assert (
        _ok(api.request("PATCH", f"{GW}/guardrails/update-config", json=moved))["config"]["execution_order"]
        == 1
    )
    assert order() == [("first", 1), ("second", 2), ("third", None)]
    not_on = {"endpoint_id": actor, "guardrail_id": first["guardrail_id"]}
    _error(
        api.request("PATCH", f"{GW}/guardrails/update-config", json=not_on), 404, "RESOURCE_DOES_NOT_EXIST"
    )

    _ok(
        api.request(
            "DELETE",
            f"{GW}/guardrails/remove-from-endpoint",
            json={"endpoint_id": endpoint_id, "guardrail_id": second["guardrail_id"]},
        )
    )
    _error(
        api.request(
            "DELETE",
            f"{GW}/guardrails/remove-from-endpoint",
            json={"endpoint_id": endpoint_id, "guardrail_id": second["guardrail_id"]},
        ),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    # A deleted guardrail leaves no place on an endpoint.
    _ok(api.request("DELETE", f"{GW}/guardrails/delete", json={"guardrail_id": third["guardrail_id"]}))
    assert order() == [("first", 1)]
    # The scorer version a guardrail runs cannot be deleted from under it.
    refused = api.request(
        "DELETE", f"{V3}/scorers/delete", json={"experiment_id": experiment_id, "name": "safety"}
    )
    assert "guardrails" in _error(refused, 400, "INVALID_PARAMETER_VALUE")
    # Deleting the action endpoint empties the guardrail's action endpoint; deleting the
    # guarded endpoint removes its guardrail places.
    _ok(api.request("DELETE", f"{GW}/endpoints/delete", json={"endpoint_id": actor}))
    assert (
        "action_endpoint_id"
        not in _ok(api.get(f"{GW}/guardrails/get", params={"guardrail_id": first["guardrail_id"]}))[
            "guardrail"
        ]
    )
    _ok(api.request("DELETE", f"{GW}/endpoints/delete", json={"endpoint_id": endpoint_id}))
    gone = api.get(f"{GW}/guardrails/list-for-endpoint", params={"endpoint_id": endpoint_id})
    _error(gone, 404, "RESOURCE_DOES_NOT_EXIST")
    for guardrail in (first, second):
        _ok(
            api.request("DELETE", f"{GW}/guardrails/delete", json={"guardrail_id": guardrail["guardrail_id"]})
        )
    _ok(
        api.request("DELETE", f"{V3}/scorers/delete", json={"experiment_id": experiment_id, "name": "safety"})
    )


def test_guardrails_page(api: SyncClient) -> None:
    judge = _scorer(api, _experiment(api), "safety", JUDGE)
    for n in range(3):
        _ok(_guardrail(api, judge, name=f"paged-{n}"))
    first = _ok(api.get(f"{GW}/guardrails/list", params={"max_results": 2}))
    assert len(first["guardrails"]) == 2 and first["next_page_token"]
    rest = _ok(
        api.get(f"{GW}/guardrails/list", params={"max_results": 1000, "page_token": first["next_page_token"]})
    )
    ids = [g["guardrail_id"] for g in first["guardrails"] + rest["guardrails"]]
    assert len(ids) == len(set(ids)) >= 3 and "next_page_token" not in rest


# -- what MLflow's UI reads for its forms -------------------------------------------------


def test_the_forms_helper_routes_answer_from_what_the_server_knows(api: SyncClient) -> None:
    config = _ok(api.get("/ajax-api/3.0/mlflow/gateway/provider-config", params={"provider": "openai"}))
    assert config["default_mode"] == "api_key"
    assert [f["name"] for f in config["auth_modes"][0]["secret_fields"]] == ["api_key"]
    unknown = api.get("/ajax-api/3.0/mlflow/gateway/provider-config", params={"provider": "nope"})
    _error(unknown, 400, "INVALID_PARAMETER_VALUE")
    _error(api.get("/ajax-api/3.0/mlflow/gateway/provider-config"), 400, "INVALID_PARAMETER_VALUE")
    assert _ok(api.get("/ajax-api/3.0/mlflow/gateway/secrets/config")) == {
        "secrets_available": True,
        "using_default_passphrase": False,
    }
    _ok(
        api.request(
            "POST",
            f"{GW}/model-definitions/create",
            json={"name": f"m-{uuid.uuid4().hex[:6]}", "provider": "mistral", "model_name": "mistral-large"},
        )
    )
    models = _ok(api.get("/ajax-api/3.0/mlflow/gateway/supported-models", params={"provider": "mistral"}))[
        "models"
    ]
    assert {"model": "mistral-large", "provider": "mistral", "mode": None} in models
    assert all(m["provider"] == "mistral" for m in models)


# -- scorers' online configurations -------------------------------------------------------


def _online(api: SyncClient, experiment_id: str, name: str, **fields: Any) -> httpx.Response:
    body = {"experiment_id": experiment_id, "name": name, "sample_rate": 0.5, **fields}
    return api.request("PUT", f"{V3}/scorers/online-config", json=body)


def test_an_online_config_is_stored_replaced_and_answered(api: SyncClient) -> None:
    experiment_id = _experiment(api)
    judge = _scorer(api, experiment_id, "safety", JUDGE)
    made = _ok(_online(api, experiment_id, "safety", filter_string="tags.env = 'prod'"))["config"]
    assert (made["scorer_id"], made["sample_rate"], made["experiment_id"]) == (
        judge["scorer_id"],
        0.5,
        experiment_id,
    )
    assert made["filter_string"] == "tags.env = 'prod'"
    replaced = _ok(_online(api, experiment_id, "safety", sample_rate=0.25))["config"]
    assert "filter_string" not in replaced
    got = _ok(
        api.get(
            f"{V3}/scorers/online-configs",
            params=[("scorer_ids", judge["scorer_id"]), ("scorer_ids", "nope")],
        )
    )
    assert got == {"configs": [replaced]}  # one per scorer
    # Deleting the scorer takes its configuration along.
    _ok(
        api.request("DELETE", f"{V3}/scorers/delete", json={"experiment_id": experiment_id, "name": "safety"})
    )
    assert _ok(api.get(f"{V3}/scorers/online-configs", params={"scorer_ids": judge["scorer_id"]})) == {
        "configs": []
    }


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"sample_rate": 1.5}, "between 0.0 and 1.0"),
        ({"sample_rate": -0.1}, "between 0.0 and 1.0"),
        ({"sample_rate": "often"}, "must be a number"),
        ({"sample_rate": None}, "must be a number"),
        ({"filter_string": 3}, "filter_string"),
        ({"filter_string": "tags.env = "}, ""),
    ],
)
def test_a_bad_online_config_is_a_400_and_keeps_the_old_one(
    api: SyncClient, fields: dict[str, Any], says: str
) -> None:
    experiment_id = _experiment(api)
    judge = _scorer(api, experiment_id, "safety", JUDGE)
    _ok(_online(api, experiment_id, "safety", sample_rate=0.1))
    assert says in _error(_online(api, experiment_id, "safety", **fields), 400, "INVALID_PARAMETER_VALUE")
    kept = _ok(api.get(f"{V3}/scorers/online-configs", params={"scorer_ids": judge["scorer_id"]}))["configs"]
    assert [c["sample_rate"] for c in kept] == [0.1]


def test_online_scoring_needs_a_gateway_judge_as_in_mlflow(api: SyncClient) -> None:
    experiment_id = _experiment(api)
    _scorer(api, experiment_id, "tone", OPENAI_JUDGE)
    _scorer(api, experiment_id, "length", CODE)
    for name in ("tone", "length"):
        refused = _online(api, experiment_id, name)
        assert "does not use a gateway model" in _error(refused, 400, "INVALID_PARAMETER_VALUE")
        assert (
            _ok(_online(api, experiment_id, name, sample_rate=0))["config"]["sample_rate"] == 0
        )  # off is fine
    missing = _online(api, experiment_id, "nope")
    assert _error(missing, 404, "RESOURCE_DOES_NOT_EXIST") == (
        f"Scorer with name 'nope' not found for experiment {experiment_id}."
    )
    no_ids = api.get(f"{V3}/scorers/online-configs")
    assert "scorer_ids" in _error(no_ids, 400, "INVALID_PARAMETER_VALUE")
    no_rate = api.request(
        "PUT", f"{V3}/scorers/online-config", json={"experiment_id": experiment_id, "name": "tone"}
    )
    assert "sample_rate" in _error(no_rate, 400, "INVALID_PARAMETER_VALUE")
