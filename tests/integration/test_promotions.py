"""Promotions and approvals through the API, in-process (the app over ASGI, auth on, SQLite).

Users: ``alice`` and ``dave`` are data scientists (they may move aliases but not approve),
``bob`` is an ML engineer (models:approve), ``erin`` a data scientist in ``default`` only.
Each test uses its own model, so they share one app.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from anyio.from_thread import start_blocking_portal

from shipyard.server.app import create_app
from shipyard.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.integration.test_access_matrix import SyncClient

_USERS = {"alice": ("data-scientist", "*"), "dave": ("data-scientist", "*"),
          "bob": ("ml-engineer", "*"), "erin": ("data-scientist", "default")}  # fmt: skip


@dataclass
class World:
    clients: dict[str, SyncClient]

    def call(
        self, who: str, method: str, path: str, *, workspace: str = "default", **kwargs: Any
    ) -> httpx.Response:
        headers = {"Shipyard-Workspace": workspace}
        return self.clients[who].request(method, path, headers=headers, **kwargs)

    def ok(self, who: str, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.call(who, method, path, **kwargs)
        assert answer.is_success, answer.text
        return answer.json() if answer.content else None

    def version(self, who: str, model: str, data: bytes, workspace: str = "default") -> int:
        """A new version of ``model`` from a run's ``model/`` folder holding ``data``."""
        experiment = self.ok(who, "POST", "/api/v1/experiments", json={"name": f"e-{uuid.uuid4().hex[:8]}"},
                             workspace=workspace)  # fmt: skip
        run = self.ok(who, "POST", "/api/v1/runs", json={"experiment_id": experiment["id"],
                      "tags": {"shipyard.source.git.commit": "abc123"}}, workspace=workspace)  # fmt: skip
        run_id = run["info"]["run_id"] if "info" in run else run["id"]
        self.ok(
            who, "PUT", f"/api/v1/runs/{run_id}/artifacts/model/model.pkl", content=data, workspace=workspace
        )
        made = self.ok(who, "POST", f"/api/v1/models/{model}/versions",
                       json={"run_id": run_id, "artifact_path": "model"}, workspace=workspace)  # fmt: skip
        return int(made["version"])

    def promote(self, who: str, model: str, version: int | str, alias: str, **more: Any) -> httpx.Response:
        body = {"version": version, "alias": alias, **more}
        return self.call(who, "POST", f"/api/v1/models/{model}/promotions", json=body)

    def history(self, model: str, workspace: str = "default") -> list[dict[str, Any]]:
        found = self.ok("owner", "GET", f"/api/v1/models/{model}/history", workspace=workspace)
        return list(found["events"])


def _code(answer: httpx.Response) -> str:
    return str(answer.json()["error"]["code"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home: Path = tmp_path_factory.mktemp("promotions")
    app = create_app(Settings(home=home, roles="api"))
    with start_blocking_portal() as portal:
        made: list[httpx.AsyncClient] = []

        def client(token: str) -> SyncClient:
            c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1",
                                  headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            made.append(c)
            return SyncClient(portal, c)

        owner = client(ADMIN_TOKEN)
        clients = {"owner": owner}
        for user, (role, workspace) in _USERS.items():
            assert owner.request("POST", "/api/v1/users", json={"name": user}).status_code == 201
            assigned = owner.request("POST", "/api/v1/role-assignments",
                                     json={"user": user, "role": role, "workspace": workspace})  # fmt: skip
            assert assigned.status_code == 201, assigned.text
            token = owner.request("POST", "/api/v1/tokens", json={"name": "t", "user": user})
            clients[user] = client(token.json()["token"])
        try:
            yield World(clients)
        finally:
            for c in made:
                portal.call(c.aclose)
            app.state.services.audit.stop()


def _protect(world: World, workspace: str = "default", **body: Any) -> None:
    world.ok("owner", "POST", "/api/v1/model-protections", json=body, workspace=workspace)


def test_an_unprotected_alias_moves_at_once(world: World) -> None:
    world.version("alice", "free", b"v1")
    answer = world.promote("alice", "free", 1, "champion")
    assert answer.status_code == 201, answer.text
    promotion = answer.json()
    assert (promotion["state"], promotion["required_approvals"], promotion["workspace"]) == (
        "applied",
        0,
        "default",
    )
    assert world.ok("alice", "GET", "/api/v1/models/free")["aliases"] == {"champion": 1}
    actions = [e["action"] for e in world.history("free")]
    assert actions[-3:] == ["promotion_requested", "alias_set", "promotion_applied"]


def test_a_protected_alias_waits_for_a_second_principal_who_may_approve(world: World) -> None:
    world.version("alice", "credit", b"v1")
    world.version("alice", "credit", b"v2")
    _protect(world, model="credit", alias="champion", approvals=1)
    promotion = world.promote("alice", "credit", 2, "champion").json()
    assert (promotion["state"], promotion["required_approvals"]) == ("pending", 1)
    assert "champion" not in world.ok("alice", "GET", "/api/v1/models/credit")["aliases"]
    approve = f"/api/v1/models/credit/promotions/{promotion['id']}/approve"

    for unentitled in ("alice", "dave"):  # data scientists: no models:approve
        refused = world.call(unentitled, "POST", approve, json={})
        assert refused.status_code == 403
        assert _code(refused) == "PERMISSION_DENIED"
    assert (
        world.ok("alice", "GET", f"/api/v1/models/credit/promotions/{promotion['id']}")["state"] == "pending"
    )

    done = world.ok("bob", "POST", approve, json={"comment": "val_acc holds"})
    assert done["state"] == "applied"
    assert done["decisions"][0]["principal"] == "bob"
    assert done["decisions"][0]["comment"] == "val_acc holds"
    assert world.ok("alice", "GET", "/api/v1/models/credit")["aliases"] == {"champion": 2}

    events = [e for e in world.history("credit") if e["action"].startswith(("promotion_", "alias_set"))]
    assert [e["action"] for e in events] == [
        "promotion_requested", "promotion_approved", "alias_set", "promotion_applied"
    ]  # fmt: skip
    assert events[0]["actor"] == "alice"
    assert events[1]["actor"] == "bob"
    assert events[1]["detail"]["approver"] == "bob"
    assert events[3]["detail"]["approvers"] == ["bob"]
    assert events[3]["detail"]["requested_by"] == "alice"
    assert events[3]["version"] == 2

    audit = world.ok("owner", "GET", "/api/v1/audit", params={"action": "models:approve"})["entries"]
    mine = [e for e in audit if e["target"] == f"POST {approve}"]
    assert [(e["actor"], e["status"], e["outcome"]) for e in mine if e["status"] == 200] == [
        ("bob", 200, "ok")
    ]
    assert {e["actor"] for e in mine if e["outcome"] == "denied"} == {"alice", "dave"}

    again = world.call("bob", "POST", approve, json={})
    assert again.status_code == 409
    assert "already applied" in again.json()["error"]["message"]


def test_the_requester_cannot_approve_even_holding_models_approve(world: World) -> None:
    world.version("owner", "selfie", b"v1")
    _protect(world, model="selfie", alias="champion")
    promotion = world.promote("owner", "selfie", 1, "champion").json()
    base = f"/api/v1/models/selfie/promotions/{promotion['id']}"
    for decision in ("approve", "reject"):
        own = world.call("owner", "POST", f"{base}/{decision}", json={})
        assert own.status_code == 403
        assert _code(own) == "SELF_APPROVAL"
        assert "a second person" in own.json()["error"]["message"]
    assert world.ok("bob", "POST", f"{base}/approve", json={})["state"] == "applied"


def test_two_approvals_need_two_other_principals(world: World) -> None:
    world.version("alice", "twice", b"v1")
    _protect(world, model="twice", alias="*", approvals=2)
    promotion = world.promote("alice", "twice", 1, "prod").json()
    approve = f"/api/v1/models/twice/promotions/{promotion['id']}/approve"
    assert world.ok("bob", "POST", approve, json={})["state"] == "pending"
    assert world.call("bob", "POST", approve, json={}).status_code == 409  # the same person twice
    assert world.ok("owner", "POST", approve, json={})["state"] == "applied"
    assert world.ok("alice", "GET", "/api/v1/models/twice")["aliases"] == {"prod": 1}


def test_a_rejected_promotion_leaves_the_alias(world: World) -> None:
    world.version("alice", "nope", b"v1")
    _protect(world, model="nope", alias="champion")
    promotion = world.promote("alice", "nope", 1, "champion").json()
    base = f"/api/v1/models/nope/promotions/{promotion['id']}"
    rejected = world.ok("bob", "POST", f"{base}/reject", json={"comment": "drift on age"})
    assert rejected["state"] == "rejected"
    assert world.ok("alice", "GET", "/api/v1/models/nope")["aliases"] == {}
    assert world.history("nope")[-1]["action"] == "promotion_rejected"
    assert world.call("bob", "POST", f"{base}/approve", json={}).status_code == 409
    listed = world.ok("alice", "GET", "/api/v1/models/nope/promotions", params={"state": "rejected"})
    assert [p["id"] for p in listed["promotions"]] == [promotion["id"]]
    assert world.ok("alice", "GET", "/api/v1/models/nope/promotions", params={"state": "pending"}) == {
        "promotions": []
    }


def test_a_protected_alias_cannot_be_set_or_deleted_directly(world: World) -> None:
    world.version("alice", "guarded", b"v1")
    world.ok("alice", "PUT", "/api/v1/models/guarded/aliases/champion", json={"version": 1})
    world.ok("alice", "PUT", "/api/v1/models/guarded/aliases/challenger", json={"version": 1})
    _protect(world, model="guarded", alias="champion")

    direct = world.call("alice", "PUT", "/api/v1/models/guarded/aliases/champion", json={"version": 1})
    assert direct.status_code == 403
    assert _code(direct) == "APPROVAL_REQUIRED"
    assert "shipyard model promote" in direct.json()["error"]["message"]
    gone = world.call("owner", "DELETE", "/api/v1/models/guarded/aliases/champion")
    assert _code(gone) == "APPROVAL_REQUIRED"
    mlflow = world.call("alice", "POST", "/api/2.0/mlflow/registered-models/alias",
                        json={"name": "guarded", "alias": "champion", "version": "1"})  # fmt: skip
    assert mlflow.status_code == 403
    assert "shipyard model promote" in mlflow.json()["message"]
    # Unprotected aliases move as before.
    world.ok("alice", "PUT", "/api/v1/models/guarded/aliases/challenger", json={"version": 1})
    world.ok("alice", "DELETE", "/api/v1/models/guarded/aliases/challenger")


def test_a_copy_to_a_protected_workspace_keeps_files_and_lineage(world: World) -> None:
    source_version = world.version("alice", "churn", b"churn-model-bytes")
    _protect(world, workspace="prod")  # every alias of every model in prod
    listed = world.ok("owner", "GET", "/api/v1/model-protections", workspace="prod")["protections"]
    assert [(p["workspace"], p["model"], p["alias"], p["approvals"]) for p in listed] == [
        ("prod", "*", "*", 1)
    ]

    refused = world.promote("erin", "churn", source_version, "champion", target_workspace="prod")
    assert refused.status_code == 403
    assert "models:write" in refused.json()["error"]["message"]

    answer = world.promote("alice", "churn", "latest", "champion", target_workspace="prod")
    assert answer.status_code == 201, answer.text
    promotion = answer.json()
    assert (promotion["workspace"], promotion["state"]) == ("prod", "pending")
    assert promotion["source"] == f"default/churn:{source_version}"

    copied = world.ok("bob", "GET", f"/api/v1/models/churn/versions/{promotion['version']}", workspace="prod")
    assert copied["tags"]["shipyard.promoted_from"] == f"default/churn:{source_version}"
    source = world.ok("alice", "GET", f"/api/v1/models/churn/versions/{source_version}")
    assert copied["tags"]["shipyard.promoted_from.run_id"] == source["run_id"]
    assert copied["code_version"] == "abc123"
    assert copied["run_id"] != source["run_id"]
    files = world.call(
        "bob", "GET", f"/api/v1/runs/{copied['run_id']}/artifacts/model/model.pkl", workspace="prod"
    )
    assert files.status_code == 200
    assert files.content == b"churn-model-bytes"

    # The promotion lives in prod: approving it from default finds nothing.
    approve = f"/api/v1/models/churn/promotions/{promotion['id']}/approve"
    assert world.call("bob", "POST", approve, json={}).status_code == 404
    assert world.ok("bob", "POST", approve, json={}, workspace="prod")["state"] == "applied"
    assert world.ok("bob", "GET", "/api/v1/models/churn", workspace="prod")["aliases"] == {
        "champion": promotion["version"]
    }
    assert (
        world.ok("bob", "GET", f"/api/v1/promotions/{promotion['id']}", workspace="prod")["state"]
        == "applied"
    )
    assert "champion" not in world.ok("alice", "GET", "/api/v1/models/churn")["aliases"]
    # The source's history says where its copy went (what its model card shows).
    events = world.ok("alice", "GET", "/api/v1/models/churn/history")["events"]
    copied_event = [e for e in events if e["action"] == "promotion_copied"]
    assert [
        (e["version"], e["detail"]["workspace"], e["detail"]["target_version"]) for e in copied_event
    ] == [(source_version, "prod", promotion["version"])]


def test_bad_input_gets_a_clear_4xx(world: World) -> None:
    world.version("alice", "bad", b"v1")
    cases = [
        (world.promote("alice", "missing-model", 1, "champion"), 404),
        (world.promote("alice", "bad", 9, "champion"), 404),
        (world.promote("alice", "bad", "no-such-alias", "champion"), 404),
        (world.promote("alice", "bad", 1, "latest"), 400),
        (world.promote("alice", "bad", 1, "v3"), 400),
        (world.promote("alice", "bad", 1, "../up"), 400),
        (world.promote("alice", "bad", 1, ""), 400),
        (world.promote("alice", "bad", 1, "champion", target_workspace="Not A Workspace"), 400),
        (world.call("alice", "GET", "/api/v1/models/bad/promotions/12345"), 404),
        (world.call("bob", "POST", "/api/v1/models/bad/promotions/12345/approve", json={}), 404),
        (world.call("alice", "GET", "/api/v1/models/bad/promotions", params={"state": "done"}), 400),
        (world.call("alice", "GET", "/api/v1/models/missing-model/promotions"), 404),
        (world.call("alice", "GET", "/api/v1/promotions/0"), 400),
        (world.call("owner", "POST", "/api/v1/model-protections", json={"approvals": 0}), 400),
        (world.call("owner", "POST", "/api/v1/model-protections", json={"alias": "latest"}), 400),
        (world.call("owner", "DELETE", "/api/v1/model-protections", params={"model": "nothing"}), 404),
        (world.call("alice", "POST", "/api/v1/model-protections", json={"model": "bad"}), 403),
        (world.call("alice", "GET", "/api/v1/promotions", params={"state": "x"}), 400),
    ]
    for index, (answer, status) in enumerate(cases):
        assert answer.status_code == status, (index, answer.text)
        assert answer.json()["error"]["message"], index
    made = world.promote("alice", "bad", 1, "champion").json()
    long = world.call(
        "bob", "POST", f"/api/v1/models/bad/promotions/{made['id']}/reject", json={"comment": "x" * 2001}
    )
    assert long.status_code == 400
