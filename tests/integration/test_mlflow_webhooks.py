"""The model registry's webhooks in-process (MLflow 3's ``/api/2.0/mlflow/webhooks``): CRUD in
MLflow's shapes, bad input answered with MLflow's codes and nothing stored, the secret never
answered and stored encrypted, registry changes delivered (MLflow's and ``/api/v1``'s alike)
with MLflow's headers and signature, failures retried and logged without touching the
registry call, the test endpoint, who may manage webhooks, SSRF refusals, backups.

The real ``mlflow`` client drives the same routes in tests/e2e/mlflow/test_webhooks.py.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from anyio.from_thread import start_blocking_portal
from fastapi import FastAPI
from sqlalchemy import create_engine, text

from shipyard.domain.webhooks import sign
from shipyard.errors import InvalidArgument
from shipyard.server.app import create_app
from shipyard.server.backup_tool import create_backup, restore_backup
from shipyard.services.access.ports import SecretCipher
from shipyard.services.webhook_ports import WEBHOOKS
from shipyard.services.webhooks import DeliveryPolicy, WebhookService
from shipyard.settings import Settings
from shipyard.stores.secret_cipher import FernetCipher
from shipyard.stores.sql.database import SqlDatabase
from tests.conftest import ADMIN_TOKEN, AUTH
from tests.integration.backup_world import OWNER, SECRET_KEY, dump_all
from tests.integration.test_access_matrix import ADMIN, SyncClient
from tests.integration.webhook_receiver import Receiver, signature_ok

HOOKS = "/api/2.0/mlflow/webhooks"
ML = "/api/2.0/mlflow"
RUN = "0123456789abcdef0123456789abcdef"
MODEL_EVENTS = [
    {"entity": "REGISTERED_MODEL", "action": "CREATED"},
    {"entity": "MODEL_VERSION", "action": "CREATED"},
    {"entity": "MODEL_VERSION_TAG", "action": "SET"},
    {"entity": "MODEL_VERSION_TAG", "action": "DELETED"},
    {"entity": "MODEL_VERSION_ALIAS", "action": "CREATED"},
    {"entity": "MODEL_VERSION_ALIAS", "action": "DELETED"},
]


@contextmanager
def _serve(settings: Settings) -> Iterator[tuple[SyncClient, FastAPI]]:
    app = create_app(settings)
    with start_blocking_portal() as portal:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1", headers=AUTH
        )
        try:
            yield SyncClient(portal, client), app
        finally:
            portal.call(client.aclose)
            app.state.services.webhooks.close()
            app.state.services.audit.stop()
            app.state.database.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SyncClient, FastAPI]]:
    home = tmp_path_factory.mktemp("webhooks")
    settings = Settings(home=home, roles="api", admin_token=ADMIN_TOKEN, webhook_allow_private_ips=True)
    with _serve(settings) as both:
        yield both


@pytest.fixture
def api(served: tuple[SyncClient, FastAPI]) -> SyncClient:
    return served[0]


@pytest.fixture
def hooks(served: tuple[SyncClient, FastAPI]) -> WebhookService:
    service: WebhookService = served[1].state.services.webhooks
    return service


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


def _error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code, body
    return str(body["message"])


def _create(api: SyncClient, **body: Any) -> dict[str, Any]:
    made = api.request("POST", HOOKS, json=body)
    assert made.status_code == 200, made.text
    hook: dict[str, Any] = made.json()["webhook"]
    return hook


def _cleanup(api: SyncClient) -> None:
    """Delete every webhook: each test starts with none following anything."""
    for hook in api.get(HOOKS, params={"max_results": 1000}).json().get("webhooks", []):
        assert api.request("DELETE", f"{HOOKS}/{hook['webhook_id']}").status_code == 200


@pytest.fixture(autouse=True)
def _no_webhooks_left(served: tuple[SyncClient, FastAPI]) -> Iterator[None]:
    yield
    _cleanup(served[0])
    served[1].state.services.webhooks.wait_idle(30)


def _model_changes(api: SyncClient, name: str) -> None:
    """One of each registry change MLflow has an event for, through MLflow's routes."""
    steps = [
        (
            "registered-models/create",
            {"name": name, "description": "churn", "tags": [{"key": "team", "value": "ml"}]},
        ),
        (
            "model-versions/create",
            {
                "name": name,
                "source": f"runs:/{RUN}/model",
                "description": "v1",
                "tags": [{"key": "k", "value": "v"}],
            },
        ),
        ("model-versions/set-tag", {"name": name, "version": "1", "key": "stage", "value": "qa"}),
        ("registered-models/alias", {"name": name, "alias": "champion", "version": "1"}),
    ]
    for path, body in steps:
        answer = api.request("POST", f"{ML}/{path}", json=body)
        assert answer.status_code == 200, answer.text
    gone = api.request(
        "DELETE", f"{ML}/model-versions/delete-tag", json={"name": name, "version": "1", "key": "stage"}
    )
    assert gone.status_code == 200, gone.text
    unaliased = api.request(
        "DELETE", f"{ML}/registered-models/alias", json={"name": name, "alias": "champion"}
    )
    assert unaliased.status_code == 200, unaliased.text


# -- CRUD ---------------------------------------------------------------------------------


def test_create_get_list_update_delete_in_mlflows_shapes(api: SyncClient) -> None:
    made = _create(
        api,
        name="ci-hook",
        url="https://ci.example.com/hook",
        events=[{"entity": "MODEL_VERSION", "action": "CREATED"}, {"entity": 4, "action": 1}],
        description="tell CI",
        secret="s3cret",
    )
    assert set(made) == {
        "webhook_id", "name", "description", "url", "events", "status",
        "creation_timestamp", "last_updated_timestamp",
    }  # fmt: skip
    assert made["status"] == "ACTIVE" and made["description"] == "tell CI"
    assert made["events"] == [
        {"entity": "MODEL_VERSION", "action": "CREATED"},
        {"entity": "MODEL_VERSION_ALIAS", "action": "CREATED"},
    ]
    hook_id = made["webhook_id"]
    assert api.get(f"{HOOKS}/{hook_id}").json() == {"webhook": made}

    second = _create(
        api, name="second", url="http://ci.example.com/x", events=MODEL_EVENTS[:1], status="DISABLED"
    )
    assert second["status"] == "DISABLED"
    page = api.get(HOOKS, params={"max_results": 1}).json()
    assert [h["name"] for h in page["webhooks"]] == ["second"]  # newest first
    rest = api.get(HOOKS, params={"max_results": 1, "page_token": page["next_page_token"]}).json()
    assert [h["name"] for h in rest["webhooks"]] == ["ci-hook"] and "next_page_token" not in rest

    time.sleep(0.002)
    patched = api.request(
        "PATCH", f"{HOOKS}/{hook_id}", json={"name": "renamed", "status": "DISABLED", "description": ""}
    ).json()["webhook"]
    assert (patched["name"], patched["status"], patched["description"]) == ("renamed", "DISABLED", "")
    assert patched["url"] == made["url"] and patched["events"] == made["events"]
    assert patched["last_updated_timestamp"] > made["last_updated_timestamp"]
    assert patched["creation_timestamp"] == made["creation_timestamp"]
    events = api.request(
        "PATCH", f"{HOOKS}/{hook_id}", json={"events": [{"entity": "REGISTERED_MODEL", "action": "CREATED"}]}
    ).json()["webhook"]
    assert (
        events["events"] == [{"entity": "REGISTERED_MODEL", "action": "CREATED"}]
        and events["name"] == "renamed"
    )

    assert api.request("DELETE", f"{HOOKS}/{hook_id}").json() == {}
    message = _error(api.get(f"{HOOKS}/{hook_id}"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert message == f"Webhook with ID {hook_id} not found."
    _error(api.request("DELETE", f"{HOOKS}/{hook_id}"), 404, "RESOURCE_DOES_NOT_EXIST")
    _error(api.request("PATCH", f"{HOOKS}/{hook_id}", json={"name": "x"}), 404, "RESOURCE_DOES_NOT_EXIST")
    _error(api.request("POST", f"{HOOKS}/{hook_id}/test", json={}), 404, "RESOURCE_DOES_NOT_EXIST")


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (
            {"url": "https://a.example.com", "events": MODEL_EVENTS[:1]},
            "Missing value for required parameter 'name'",
        ),
        ({"name": "h", "events": MODEL_EVENTS[:1]}, "Missing value for required parameter 'url'"),
        ({"name": "h", "url": "https://a.example.com"}, "Missing value for required parameter 'events'"),
        (
            {"name": "-h", "url": "https://a.example.com", "events": MODEL_EVENTS[:1]},
            "Webhook name '-h' is invalid",
        ),
        ({"name": "h" * 64, "url": "https://a.example.com", "events": MODEL_EVENTS[:1]}, "is invalid"),
        ({"name": "a b", "url": "https://a.example.com", "events": MODEL_EVENTS[:1]}, "is invalid"),
        (
            {"name": "h", "url": "ftp://a.example.com/x", "events": MODEL_EVENTS[:1]},
            "Invalid webhook URL scheme",
        ),
        ({"name": "h", "url": "https:///nohost", "events": MODEL_EVENTS[:1]}, "must include a hostname"),
        ({"name": "h", "url": "  ", "events": MODEL_EVENTS[:1]}, "cannot be empty"),
        (
            {"name": "h", "url": "https://u:p@a.example.com", "events": MODEL_EVENTS[:1]},
            "user name or password",
        ),
        (
            {"name": "h", "url": "https://a.example.com:99999/", "events": MODEL_EVENTS[:1]},
            "Invalid webhook URL",
        ),
        ({"name": "h", "url": "https://a.example.com", "events": []}, "non-empty list"),
        (
            {
                "name": "h",
                "url": "https://a.example.com",
                "events": [{"entity": "REGISTERED_MODEL", "action": "DELETED"}],
            },
            "Invalid action 'deleted' for entity 'registered_model'",
        ),
        (
            {"name": "h", "url": "https://a.example.com", "events": [{"entity": "RUN", "action": "CREATED"}]},
            "Invalid webhook event entity 'RUN'",
        ),
        ({"name": "h", "url": "https://a.example.com", "events": [{"entity": "PROMPT"}]}, "action None"),
        (
            {"name": "h", "url": "https://a.example.com", "events": MODEL_EVENTS[:1], "status": "PAUSED"},
            "Invalid webhook status 'PAUSED'",
        ),
        ({"name": "h", "url": "https://a.example.com", "events": "all"}, "Invalid value"),
        ({"name": 5, "url": "https://a.example.com", "events": MODEL_EVENTS[:1]}, "Invalid value"),
    ],
)
def test_bad_input_is_a_400_with_mlflows_code_and_nothing_is_stored(
    api: SyncClient, body: dict[str, Any], says: str
) -> None:
    message = _error(api.request("POST", HOOKS, json=body), 400, "INVALID_PARAMETER_VALUE")
    assert says in message
    assert api.get(HOOKS).json() == {"webhooks": []}


def test_bad_updates_and_pages_are_refused_and_change_nothing(api: SyncClient) -> None:
    made = _create(api, name="h", url="https://a.example.com", events=MODEL_EVENTS[:1])
    url = f"{HOOKS}/{made['webhook_id']}"
    for body in (
        {"name": "bad name"},
        {"url": "file:///etc/passwd"},
        {"events": [{"entity": "MODEL_VERSION", "action": "SET"}]},
        {"status": "ON"},
        {"secret": 7},
    ):
        _error(api.request("PATCH", url, json=body), 400, "INVALID_PARAMETER_VALUE")
    assert api.get(url).json() == {"webhook": made}
    for params in ({"max_results": -1}, {"max_results": 1001}, {"page_token": "not-a-token"}):
        _error(api.get(HOOKS, params=params), 400, "INVALID_PARAMETER_VALUE")
    _error(
        api.request("POST", f"{url}/test", json={"event": {"entity": "MODEL_VERSION", "action": "DELETED"}}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    _error(api.request("POST", HOOKS, content=b"{not json"), 400, "MALFORMED_REQUEST")


def test_the_secret_is_never_answered_and_is_stored_encrypted(
    api: SyncClient, served: tuple[SyncClient, FastAPI]
) -> None:
    made = api.request(
        "POST",
        HOOKS,
        json={"name": "h", "url": "https://a.example.com", "events": MODEL_EVENTS[:1], "secret": "hush-123"},
    )
    assert "hush-123" not in made.text
    hook_id = made.json()["webhook"]["webhook_id"]
    assert "hush-123" not in api.get(f"{HOOKS}/{hook_id}").text + api.get(HOOKS).text
    engine = create_engine(served[1].state.settings.resolved_database_url())
    try:
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT secret FROM webhooks WHERE id = :i"), {"i": hook_id}).scalar()
    finally:
        engine.dispose()
    assert stored and "hush-123" not in stored
    cipher: SecretCipher = served[1].state.services.webhooks.cipher
    assert cipher.decrypt(stored) == "hush-123"


# -- deliveries ---------------------------------------------------------------------------


def test_every_registry_event_is_delivered_signed_in_mlflows_shape(
    api: SyncClient, hooks: WebhookService, receiver: Receiver
) -> None:
    _create(api, name="all", url=receiver.url, events=MODEL_EVENTS, secret="topsecret")
    _model_changes(api, "churn")
    got = receiver.wait_for(6)
    assert hooks.wait_idle(10)
    assert len(receiver.deliveries) == 6
    by_event = {(d.json["entity"], d.json["action"]): d for d in got}
    assert by_event[("registered_model", "created")].json["data"] == {
        "name": "churn", "tags": {"team": "ml"}, "description": "churn",
    }  # fmt: skip
    assert by_event[("model_version", "created")].json["data"] == {
        "name": "churn", "version": "1", "source": f"runs:/{RUN}/model", "run_id": RUN,
        "tags": {"k": "v"}, "description": "v1",
    }  # fmt: skip
    assert by_event[("model_version_tag", "set")].json["data"] == {
        "name": "churn", "version": "1", "key": "stage", "value": "qa",
    }  # fmt: skip
    assert by_event[("model_version_tag", "deleted")].json["data"] == {
        "name": "churn",
        "version": "1",
        "key": "stage",
    }
    assert by_event[("model_version_alias", "created")].json["data"] == {
        "name": "churn", "alias": "champion", "version": "1",
    }  # fmt: skip
    assert by_event[("model_version_alias", "deleted")].json["data"] == {"name": "churn", "alias": "champion"}
    for delivery in got:
        assert delivery.path == "/hook"
        assert delivery.headers["content-type"] == "application/json"
        assert signature_ok(delivery, "topsecret")
        assert not signature_ok(delivery, "another")
        assert abs(int(delivery.headers["x-mlflow-timestamp"]) - time.time()) < 60
        assert delivery.json["workspace"] == "default" and delivery.json["timestamp"].endswith("+00:00")
    assert len({d.headers["x-mlflow-delivery-id"] for d in got}) == 6


def test_native_api_changes_are_delivered_too(
    api: SyncClient, hooks: WebhookService, receiver: Receiver
) -> None:
    _create(api, name="native", url=receiver.url, events=[MODEL_EVENTS[0], MODEL_EVENTS[4]])
    made = api.request("POST", "/api/v1/models", json={"name": "native-model"})
    assert made.status_code == 201, made.text
    version = api.request(
        "POST", f"{ML}/model-versions/create", json={"name": "native-model", "source": f"runs:/{RUN}/m"}
    )
    assert version.status_code == 200, version.text
    alias = api.request("PUT", "/api/v1/models/native-model/aliases/prod", json={"version": 1})
    assert alias.status_code == 200, alias.text
    got = receiver.wait_for(2)
    assert hooks.wait_idle(10)
    by_event = {(d.json["entity"], d.json["action"]): d for d in receiver.deliveries}  # sent side by side
    assert (
        sorted(by_event)
        == [
            ("model_version_alias", "created"),
            ("registered_model", "created"),
        ]
        and len(receiver.deliveries) == 2
    )  # the version's creation is not followed
    alias_set = by_event[("model_version_alias", "created")]
    assert alias_set.json["data"] == {"name": "native-model", "alias": "prod", "version": "1"}
    assert all("x-mlflow-signature" not in d.headers for d in got)  # no secret: unsigned, as MLflow


def test_an_alias_a_promotion_moves_is_delivered(
    api: SyncClient, hooks: WebhookService, receiver: Receiver
) -> None:
    _create(api, name="promoted", url=receiver.url, events=[MODEL_EVENTS[4]])
    assert api.request("POST", "/api/v1/models", json={"name": "promoted-model"}).status_code == 201
    version = api.request(
        "POST", f"{ML}/model-versions/create", json={"name": "promoted-model", "source": f"runs:/{RUN}/m"}
    )
    assert version.status_code == 200, version.text
    # Unprotected: applied at once, by the promotion service (not the registry's alias route).
    promoted = api.request(
        "POST", "/api/v1/models/promoted-model/promotions", json={"version": 1, "alias": "champion"}
    )
    assert promoted.status_code == 201 and promoted.json()["state"] == "applied", promoted.text
    (got,) = receiver.wait_for(1)
    assert hooks.wait_idle(10)
    assert (got.json["entity"], got.json["action"]) == ("model_version_alias", "created")
    assert got.json["data"] == {"name": "promoted-model", "alias": "champion", "version": "1"}
    assert len(receiver.deliveries) == 1  # the promotion's own history entries are not webhook events


def test_a_prompts_changes_raise_mlflows_prompt_events(
    api: SyncClient, hooks: WebhookService, receiver: Receiver
) -> None:
    every = [
        {"entity": entity, "action": action}
        for entity, action in [
            ("PROMPT", "CREATED"), ("PROMPT_VERSION", "CREATED"), ("PROMPT_VERSION_TAG", "SET"),
            ("PROMPT_ALIAS", "CREATED"), ("PROMPT_ALIAS", "DELETED"),
        ]
    ] + MODEL_EVENTS  # fmt: skip
    _create(api, name="prompts", url=receiver.url, events=every)
    prompt_tag = {"key": "mlflow.prompt.is_prompt", "value": "true"}
    made = api.request(
        "POST", f"{ML}/registered-models/create", json={"name": "greeting", "tags": [prompt_tag]}
    )
    assert made.status_code == 200, made.text
    version = api.request(
        "POST",
        f"{ML}/model-versions/create",
        json={
            "name": "greeting",
            "source": "dummy-source",
            "description": "first",
            "tags": [
                prompt_tag,
                {"key": "mlflow.prompt.text", "value": "Hi {{who}}"},
                {"key": "lang", "value": "en"},
            ],
        },
    )
    assert version.status_code == 200, version.text
    for method, path, body in [
        ("POST", "model-versions/set-tag", {"name": "greeting", "version": "1", "key": "ok", "value": "yes"}),
        ("POST", "registered-models/alias", {"name": "greeting", "alias": "prod", "version": "1"}),
        ("DELETE", "registered-models/alias", {"name": "greeting", "alias": "prod"}),
    ]:
        answer = api.request(method, f"{ML}/{path}", json=body)
        assert answer.status_code == 200, answer.text
    got = receiver.wait_for(5)
    assert hooks.wait_idle(10)
    # Sent side by side (a pool of senders): compared without their order.
    assert sorted((d.json["entity"], d.json["action"]) for d in got) == [
        ("prompt", "created"),
        ("prompt_alias", "created"),
        ("prompt_alias", "deleted"),
        ("prompt_version", "created"),
        ("prompt_version_tag", "set"),
    ]  # and no registered_model / model_version events for it
    (created,) = [d for d in got if d.json["entity"] == "prompt_version"]
    assert created.json["data"] == {
        "name": "greeting", "version": "1", "template": "Hi {{who}}", "tags": {"lang": "en"}, "description": "first",
    }  # fmt: skip
    assert len(receiver.deliveries) == 5


def test_disabled_unsubscribed_and_other_workspaces_webhooks_get_nothing(
    api: SyncClient, hooks: WebhookService, receiver: Receiver
) -> None:
    _create(api, name="off", url=receiver.url, events=MODEL_EVENTS, status="DISABLED")
    _create(api, name="aliases-only", url=receiver.url, events=[MODEL_EVENTS[4]])
    other = api.request(
        "POST",
        HOOKS,
        headers={"Shipyard-Workspace": "other"},
        json={"name": "elsewhere", "url": receiver.url, "events": MODEL_EVENTS},
    )
    assert other.status_code == 200, other.text
    made = api.request("POST", f"{ML}/registered-models/create", json={"name": "quiet"})
    assert made.status_code == 200
    assert hooks.wait_idle(10)
    assert receiver.deliveries == []
    # The other workspace's webhook is not seen from this one, and its own events reach it.
    assert [h["name"] for h in api.get(HOOKS).json()["webhooks"]] == ["aliases-only", "off"]
    api.request(
        "POST",
        f"{ML}/registered-models/create",
        headers={"Shipyard-Workspace": "other"},
        json={"name": "loud"},
    )
    assert receiver.wait_for(1)[0].json["workspace"] == "other"
    for hook in api.get(HOOKS, headers={"Shipyard-Workspace": "other"}).json()["webhooks"]:
        api.request("DELETE", f"{HOOKS}/{hook['webhook_id']}", headers={"Shipyard-Workspace": "other"})


def test_a_failing_receiver_is_retried_and_logged_and_never_fails_the_registry_call(
    api: SyncClient, hooks: WebhookService, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.status = 503
    _create(api, name="flaky", url=receiver.url, events=MODEL_EVENTS[:1])
    with caplog.at_level(logging.ERROR, logger="shipyard.webhooks"):
        started = time.monotonic()
        made = api.request("POST", f"{ML}/registered-models/create", json={"name": "flaky-model"})
        assert made.status_code == 200, made.text
        assert time.monotonic() - started < 1.0  # the back-offs alone take 1.75 s: not waited for
        assert hooks.wait_idle(20)
    assert len(receiver.deliveries) == hooks.policy.attempts == 4
    assert "webhook flaky" in caplog.text and "503" in caplog.text
    assert api.get(f"{ML}/registered-models/get", params={"name": "flaky-model"}).status_code == 200


def test_an_unreachable_receiver_does_not_slow_the_registry(api: SyncClient, hooks: WebhookService) -> None:
    closed = Receiver()
    url = closed.url
    closed.close()
    _create(api, name="gone", url=url, events=MODEL_EVENTS[:1])
    started = time.monotonic()
    assert (
        api.request("POST", f"{ML}/registered-models/create", json={"name": "gone-model"}).status_code == 200
    )
    assert time.monotonic() - started < 1.0
    assert hooks.wait_idle(20)


# -- the test endpoint ----------------------------------------------------------------------


def test_the_test_endpoint_sends_mlflows_example_and_reports_the_answer(
    api: SyncClient, receiver: Receiver
) -> None:
    made = _create(api, name="t", url=receiver.url, events=[MODEL_EVENTS[1]], secret="k")
    url = f"{HOOKS}/{made['webhook_id']}/test"
    result = api.request("POST", url, json={}).json()["result"]
    assert result == {"success": True, "response_status": 200, "response_body": '{"received": true}'}
    sent = receiver.deliveries[-1]
    assert (sent.json["entity"], sent.json["action"]) == ("model_version", "created")
    assert sent.json["data"]["name"] == "example_model" and signature_ok(sent, "k")
    chosen = api.request("POST", url, json={"event": {"entity": "MODEL_VERSION_ALIAS", "action": "DELETED"}})
    assert chosen.json()["result"]["success"] is True
    assert receiver.deliveries[-1].json["data"] == {"name": "example_model", "alias": "example_alias"}

    receiver.status, receiver.answer = 500, b"boom"
    failed = api.request("POST", url, json={}).json()["result"]
    assert failed == {"success": False, "response_status": 500, "response_body": "boom"}
    assert len(receiver.deliveries) == 3  # a test is sent once, never retried


def test_the_test_endpoint_reports_an_unreachable_receiver(api: SyncClient) -> None:
    closed = Receiver()
    url = closed.url
    closed.close()
    made = _create(api, name="t2", url=url, events=MODEL_EVENTS[:1])
    result = api.request("POST", f"{HOOKS}/{made['webhook_id']}/test", json={}).json()["result"]
    assert result["success"] is False and "could not reach" in result["error_message"]
    assert "response_status" not in result


# -- who may, and where to ------------------------------------------------------------------


def test_managing_webhooks_needs_models_approve(served: tuple[SyncClient, FastAPI], api: SyncClient) -> None:
    identity = served[1].state.services.identity
    identity.create_user(ADMIN, "ds-hooks")
    identity.assign(ADMIN, "ds-hooks", "data-scientist", "*")
    token = identity.create_token(ADMIN, "hooks", user="ds-hooks").secret
    as_ds = {"Authorization": f"Bearer {token}"}
    made = _create(api, name="owned", url="https://a.example.com", events=MODEL_EVENTS[:1])
    body = {"name": "mine", "url": "https://a.example.com", "events": MODEL_EVENTS[:1]}
    _error(api.request("POST", HOOKS, headers=as_ds, json=body), 403, "PERMISSION_DENIED")
    _error(
        api.request("PATCH", f"{HOOKS}/{made['webhook_id']}", headers=as_ds, json=body),
        403,
        "PERMISSION_DENIED",
    )
    _error(
        api.request("POST", f"{HOOKS}/{made['webhook_id']}/test", headers=as_ds, json={}),
        403,
        "PERMISSION_DENIED",
    )
    _error(api.request("DELETE", f"{HOOKS}/{made['webhook_id']}", headers=as_ds), 403, "PERMISSION_DENIED")
    assert api.get(HOOKS, headers=as_ds).json()["webhooks"] == [made]  # models:read sees them, never a secret


def test_private_targets_are_refused_unless_the_setting_allows_them(tmp_path: Path) -> None:
    db = SqlDatabase(f"sqlite:///{tmp_path / 'shipyard.db'}")
    cipher = FernetCipher(SECRET_KEY)
    resolved = {"intranet.example.com": ["10.1.2.3"], "public.example.com": ["93.184.216.34"]}
    strict = WebhookService(db, cipher, resolve=lambda host: resolved.get(host) or [host])
    try:
        for url, says in (
            ("http://127.0.0.1:8080/x", "resolves to 127.0.0.1"),
            ("http://169.254.169.254/latest/meta-data", "resolves to 169.254.169.254"),
            ("http://intranet.example.com/hook", "resolves to 10.1.2.3"),
            ("http://[::ffff:10.0.0.1]/hook", "resolves to ::ffff:10.0.0.1"),
        ):
            with pytest.raises(InvalidArgument, match=re.escape(says)):
                strict.create(OWNER, "h", url, [("registered_model", "created")])
        made = strict.create(OWNER, "h", "https://public.example.com/hook", [("registered_model", "created")])
        with pytest.raises(InvalidArgument, match=r"resolves to 10\.1\.2\.3"):
            strict.update(OWNER, made.id, url="https://intranet.example.com/hook")
        assert strict.get(OWNER, made.id).url == "https://public.example.com/hook"
        # A host that later resolves privately (DNS rebinding) is refused at send time too.
        resolved["public.example.com"] = ["192.168.0.9"]
        result = strict.test(OWNER, made.id)
        assert not result.success and "192.168.0.9" in (result.error_message or "")
        allowed = WebhookService(
            db, cipher, DeliveryPolicy(allow_private_ips=True), resolve=lambda _h: ["10.1.2.3"]
        )
        assert allowed.create(
            OWNER, "lan", "http://intranet.example.com/h", [("model_version", "created")]
        ).url
        allowed.close()
    finally:
        strict.close()
        db.close()


def test_the_signature_is_mlflows() -> None:
    # MLflow 3.17's _generate_hmac_signature("secret", "id-1", "1700000000", '{"a": 1}').
    assert (
        sign("secret", "id-1", "1700000000", '{"a": 1}') == "v1,jAyhWuvJRcQMVbD7m4Iar2/4+6HricjeksyI87v/Tkk="
    )


# -- backups --------------------------------------------------------------------------------


def test_a_backup_carries_webhooks_and_their_secrets(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shipyard.db'}"
    db = SqlDatabase(url)
    try:
        service = WebhookService(db, FernetCipher(SECRET_KEY), DeliveryPolicy(allow_private_ips=True))
        made = service.create(
            OWNER, "kept", "https://ci.example.com/h", [("model_version", "created")], secret="s"
        )
        service.close()
    finally:
        db.close()
    before = dump_all(url)
    assert before["webhooks"] and before["webhook_events"]
    settings = Settings(
        home=tmp_path, database_url=url, artifacts=str(tmp_path / "a"), secret_key=SECRET_KEY.decode()
    )
    backup = tmp_path / "backup.tar"
    create_backup(settings, backup, say=lambda _line: None)
    home = tmp_path / "restored"
    restore_backup(backup, home, say=lambda _line: None)
    restored = f"sqlite:///{home / 'shipyard.db'}"
    after = dump_all(restored)
    assert {t: after[t] for t in ("webhooks", "webhook_events")} == {
        t: before[t] for t in ("webhooks", "webhook_events")
    }
    key = (home / "secret.key").read_bytes().strip()
    db = SqlDatabase(restored)
    try:
        again = WebhookService(db, FernetCipher(key))
        with db.read() as uow:
            stored = uow[WEBHOOKS].secret(made.id)
        assert stored is not None and FernetCipher(key).decrypt(stored) == "s"
        assert again.get(OWNER, made.id).name == "kept"
        again.close()
    finally:
        db.close()
