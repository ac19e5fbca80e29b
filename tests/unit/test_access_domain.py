"""Permissions, roles, grants, secret references, masking and the Host policy: pure logic."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shipyard.domain.access import (
    ALL_WORKSPACES,
    BUILTIN_ROLES,
    EVERYTHING,
    Grants,
    Role,
    check_permission,
    check_role_name,
    grants_permission,
    is_mutation,
)
from shipyard.domain.identity import AuditEntry, audit_hash, check_secret_name, check_user_name, hash_token
from shipyard.domain.redact import mask_variables
from shipyard.domain.secret_refs import has_secret_refs, secret_names, substitute_secrets
from shipyard.errors import InvalidArgument
from shipyard.server.guard import HostPolicy


def test_wildcards_grant_a_resource_or_everything() -> None:
    assert grants_permission({"jobs:*"}, "jobs:create")
    assert not grants_permission({"jobs:*"}, "models:read")
    assert grants_permission({"*"}, "secrets:write")
    assert not grants_permission({"jobs:read"}, "jobs:create")


@pytest.mark.parametrize("bad", ["jobs", "jobs:launch", "nothing:read", "", "*:read", 3])
def test_unknown_permissions_are_refused_naming_what_exists(bad: object) -> None:
    with pytest.raises(InvalidArgument) as caught:
        check_permission(bad)
    message = caught.value.message
    assert any(hint in message for hint in ("resource:action", "has the actions", "like 'jobs:create'"))


@pytest.mark.parametrize("bad", ["Owner", "-x", "a b", "", "x" * 64])
def test_role_names_are_plain(bad: str) -> None:
    with pytest.raises(InvalidArgument):
        check_role_name(bad)


def test_global_and_workspace_grants_and_a_jobs_single_workspace() -> None:
    reader, scientist = BUILTIN_ROLES["reader"], BUILTIN_ROLES["data-scientist"]
    grants = Grants.of([(ALL_WORKSPACES, reader), ("churn", scientist)])
    assert grants.allows("jobs:create", "churn")
    assert not grants.allows("jobs:create", "fraud")
    assert grants.allows("jobs:read", "fraud")  # the global reader
    assert grants.sees("fraud") and grants.sees("churn")
    job = Grants.of([(ALL_WORKSPACES, BUILTIN_ROLES["owner"])], only_workspace="churn")
    assert job.allows("secrets:write", "churn")
    assert not job.allows("experiments:read", "fraud")
    assert not job.sees("fraud")
    nobody = Grants.of([])
    assert not nobody.allows("experiments:read", "default") and not nobody.sees("default")
    assert EVERYTHING.allows("users:write", ALL_WORKSPACES)


def test_a_workspace_role_grants_nothing_server_wide() -> None:
    owner_here = Grants.of([("churn", BUILTIN_ROLES["owner"])])
    assert owner_here.allows("users:write", "churn")
    assert not owner_here.allows("users:write", ALL_WORKSPACES)


def test_builtin_roles_keep_their_promises() -> None:
    def has(role: str, permission: str) -> bool:
        return permission in BUILTIN_ROLES[role].expanded()

    assert not has("contributor", "users:write") and not has("contributor", "roles:write")
    assert not has("contributor", "secrets:write") and has("contributor", "secrets:use")
    assert not has("reader", "secrets:read") and not has("reader", "endpoints:keys")
    assert not any(has("reader", p) for p in ("jobs:create", "experiments:write", "models:write"))
    assert not has("data-scientist", "computes:write") and not has("data-scientist", "endpoints:keys")
    assert has("data-scientist", "jobs:create") and has("data-scientist", "computes:read")
    assert has("data-engineer", "data:write") and not has("data-engineer", "models:write")
    assert has("ml-engineer", "endpoints:keys") and has("ml-engineer", "computes:write")
    assert not has("ml-engineer", "jobs:create")


def test_reads_are_not_mutations() -> None:
    assert not is_mutation("models:read") and not is_mutation("server:metrics")
    assert is_mutation("jobs:create") and is_mutation("endpoints:keys") and is_mutation("secrets:use")


def test_names_of_users_and_secrets() -> None:
    check_user_name("alice.smith")
    check_secret_name("PG_PASSWORD")
    for bad in ("Alice", "a/b", "", "a" * 64):
        with pytest.raises(InvalidArgument):
            check_user_name(bad)
    for bad in ("1abc", "a b", "${{x}}", "a" * 129):
        with pytest.raises(InvalidArgument):
            check_secret_name(bad)


def test_token_hashes_are_stable_and_hex() -> None:
    assert hash_token("shy_x") == hash_token("shy_x") != hash_token("shy_y")
    assert len(hash_token("shy_x")) == 64


def test_secret_references_inside_values() -> None:
    url = "postgresql://u:${{ secrets.PG_PW }}@h/db?x=${{secrets.OTHER-1}}"
    assert secret_names([url, "plain"]) == {"PG_PW", "OTHER-1"}
    assert has_secret_refs(url) and not has_secret_refs("${{inputs.x}}")
    assert substitute_secrets(url, {"PG_PW": "p@ss", "OTHER-1": "o"}) == "postgresql://u:p@ss@h/db?x=o"


def test_masking_reaches_every_environment_variables_mapping() -> None:
    spec = {
        "command": "x",
        "environment_variables": {"A": "1", "B": "${{secrets.S}}"},
        "file": {"environment_variables": {"A": "1"}, "other": [{"environment_variables": {"C": "3"}}]},
    }
    masked = mask_variables(spec)
    assert masked["environment_variables"] == {"A": "***", "B": "***"}
    assert masked["file"]["environment_variables"] == {"A": "***"}
    assert masked["file"]["other"][0]["environment_variables"] == {"C": "***"}
    assert masked["command"] == "x"
    assert spec["environment_variables"]["A"] == "1"  # a copy


def test_the_audit_hash_covers_every_field_and_the_previous_hash() -> None:
    entry = AuditEntry(
        1, 1000, "alice", "jobs:create", "POST /api/v1/jobs", "default", 201, "ok", {"token": "t"}
    )
    base = audit_hash(entry, "0" * 64)
    assert audit_hash(entry, "1" * 64) != base
    for change in ({"actor": "bob"}, {"status": 403}, {"detail": {"token": "u"}}, {"ts": 1001}):
        assert audit_hash(replace(entry, **change), "0" * 64) != base  # type: ignore[arg-type]


def test_custom_roles_expand_their_wildcards() -> None:
    role = Role("publisher", "", frozenset({"models:*", "experiments:read"}))
    assert role.expanded() == {
        "models:read", "models:write", "models:delete", "models:approve", "experiments:read"
    }  # fmt: skip


def test_who_trains_a_model_does_not_approve_it_for_prod() -> None:
    def approves(role: str) -> bool:
        return "models:approve" in BUILTIN_ROLES[role].expanded()

    assert not approves("data-scientist") and "models:write" in BUILTIN_ROLES["data-scientist"].expanded()
    assert approves("ml-engineer") and approves("owner") and approves("contributor")
    assert not approves("reader") and not approves("data-engineer")


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("localhost:5151", True),
        ("127.0.0.1:5151", True),
        ("[::1]:5151", True),
        ("app.localhost", True),
        ("ml.example.com", True),
        ("10.0.3.4:80", True),
        ("10.1.0.1", False),
        ("attacker.example", False),
        ("0.0.0.0:5151", False),
        ("ml.example.com.evil", False),
    ],
)
def test_the_host_policy(host: str, allowed: bool) -> None:
    policy = HostPolicy.build(["ml.example.com", "10.0.*"], ["127.0.0.1"])
    assert policy.allows(host) is allowed
