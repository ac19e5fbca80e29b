"""Identity, secrets and the audit log on a real store (SQLite, then PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text

from shipyard.domain.access import ALL_WORKSPACES, BUILTIN_ROLES, EVERYTHING, Grants
from shipyard.domain.context import Principal, RequestContext
from shipyard.errors import (
    AlreadyExists,
    Conflict,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)
from shipyard.services.access.audit import AuditLog
from shipyard.services.access.authenticator import Authenticator
from shipyard.services.access.identity import IdentityService
from shipyard.services.access.process_credentials import ProcessCredentials
from shipyard.services.access.secrets import SecretService
from shipyard.stores.secret_cipher import FernetCipher, load_key
from shipyard.stores.sql.database import SqlDatabase

OWNER = RequestContext(Principal("admin", authenticated=True, grants=EVERYTHING), "default")


@pytest.fixture
def db(database_url: str) -> Iterator[SqlDatabase]:
    database = SqlDatabase(database_url)
    yield database
    database.close()


@pytest.fixture
def auth(db: SqlDatabase) -> Authenticator:
    return Authenticator(db, ttl_s=60)


@pytest.fixture
def identity(db: SqlDatabase, auth: Authenticator) -> IdentityService:
    service = IdentityService(db, on_change=auth.invalidate)
    assert service.bootstrap_owner("shy_owner_token_for_the_tests_0123456789") is not None
    return service


def _ctx(auth: Authenticator, token: str, workspace: str = "default") -> RequestContext:
    return RequestContext(auth.bearer(token), workspace)


def test_the_first_start_makes_one_owner_and_later_starts_none(identity: IdentityService) -> None:
    assert identity.bootstrap_owner(None) is None
    assert [u.name for u in identity.list_users()] == ["admin"]
    with pytest.raises(InvalidArgument, match="at least 24"):
        IdentityService(identity.db).bootstrap_owner("short")


def test_tokens_verify_expire_and_die_with_revocation_and_disable(
    identity: IdentityService, auth: Authenticator
) -> None:
    identity.create_user(OWNER, "alice")
    identity.assign(OWNER, "alice", "reader", ALL_WORKSPACES)
    made = identity.create_token(OWNER, "laptop", user="alice")
    assert made.secret.startswith("shy_") and len(made.secret) > 40
    principal = auth.bearer(made.secret)
    assert (principal.name, principal.kind, principal.token_name) == ("alice", "user", "laptop")
    assert principal.may("models:read", "anything") and not principal.may("models:write", "default")
    assert auth.cached(made.secret) is principal
    identity.revoke_token(OWNER, "laptop", user="alice")
    assert auth.cached(made.secret) is None  # the cache forgot it at once
    with pytest.raises(Unauthenticated, match="not valid"):
        auth.bearer(made.secret)
    second = identity.create_token(OWNER, "laptop", user="alice")  # the name is free again
    identity.set_disabled(OWNER, "alice", True)
    with pytest.raises(Unauthenticated, match="disabled"):
        auth.bearer(second.secret)
    with pytest.raises(Conflict, match="disabled"):
        identity.create_token(OWNER, "another", user="alice")
    identity.set_disabled(OWNER, "alice", False)
    with pytest.raises(Unauthenticated, match="another user"):
        auth.basic("bob", second.secret)  # HTTP Basic: the name must be the token's user
    assert auth.basic("alice", second.secret).name == "alice"


def test_bad_token_requests_are_refused_clearly(identity: IdentityService, auth: Authenticator) -> None:
    identity.create_user(OWNER, "carol")
    with pytest.raises(InvalidArgument):
        identity.create_token(OWNER, "bad name", user="carol")
    with pytest.raises(InvalidArgument, match="one minute"):
        identity.create_token(OWNER, "t", user="carol", ttl_s=5)
    with pytest.raises(NotFound):
        identity.create_token(OWNER, "t", user="nobody")
    identity.create_token(OWNER, "t", user="carol")
    with pytest.raises(AlreadyExists, match="revoke it first"):
        identity.create_token(OWNER, "t", user="carol")
    with pytest.raises(NotFound):
        identity.revoke_token(OWNER, "nope", user="carol")
    with pytest.raises(InvalidArgument):
        identity.create_user(OWNER, "Not A Name")
    with pytest.raises(InvalidArgument, match="e-mail"):
        identity.create_user(OWNER, "dave", email="not an address")
    with pytest.raises(AlreadyExists):
        identity.create_user(OWNER, "carol")


def test_own_tokens_for_everyone_others_only_with_users_write_none_for_jobs(
    identity: IdentityService, auth: Authenticator
) -> None:
    identity.create_user(OWNER, "erin")
    identity.assign(OWNER, "erin", "data-scientist", "churn")
    erin = _ctx(auth, identity.create_token(OWNER, "first", user="erin").secret, "churn")
    mine = identity.create_token(erin, "second")
    assert mine.token.user == "erin"
    assert {t.name for t in identity.list_tokens(erin)} == {"first", "second"}
    with pytest.raises(PermissionDenied, match="users:write"):
        identity.create_token(erin, "sneaky", user="admin")
    with pytest.raises(PermissionDenied, match="users:read"):
        identity.list_tokens(erin, "admin")
    job_secret = identity.issue_job_token("erin", "churn", "job-1", 3600)
    assert job_secret is not None
    job = _ctx(auth, job_secret, "churn")
    assert job.principal.kind == "job" and job.principal.grants.only_workspace == "churn"
    assert job.may("jobs:create") and not job.principal.may("jobs:read", "fraud")
    with pytest.raises(PermissionDenied, match="job's token"):
        identity.create_token(job, "persist")
    assert "job/churn/job-1" not in {t.name for t in identity.list_tokens(OWNER, "erin")}
    identity.revoke_job_tokens("churn", "job-1")
    with pytest.raises(Unauthenticated):
        auth.bearer(job_secret)
    assert identity.issue_job_token("ghost", "churn", "job-2", 3600) is None


def test_roles_custom_and_scoped_and_the_last_owner_stays(
    identity: IdentityService, auth: Authenticator
) -> None:
    role = identity.create_role(OWNER, "publisher", ["models:*", "experiments:read"], "moves aliases")
    assert role.permissions == {"models:*", "experiments:read"}
    with pytest.raises(AlreadyExists, match="built-in"):
        identity.create_role(OWNER, "owner", ["models:read"])
    with pytest.raises(InvalidArgument, match="unknown permission"):
        identity.create_role(OWNER, "bad", ["models:fly"])
    with pytest.raises(InvalidArgument, match="at least one"):
        identity.create_role(OWNER, "empty", [])
    identity.create_user(OWNER, "frank")
    identity.assign(OWNER, "frank", "publisher", "churn")
    with pytest.raises(AlreadyExists):
        identity.assign(OWNER, "frank", "publisher", "churn")
    with pytest.raises(NotFound, match="no role"):
        identity.assign(OWNER, "frank", "wizard", "churn")
    with pytest.raises(InvalidArgument, match="workspace"):
        identity.assign(OWNER, "frank", "reader", "Not/A/Workspace")
    frank = _ctx(auth, identity.create_token(OWNER, "t", user="frank").secret, "churn")
    assert frank.may("models:write") and not frank.principal.may("models:write", "fraud")
    # A workspace owner grants roles there, not everywhere.
    identity.assign(OWNER, "frank", "owner", "churn")
    frank = _ctx(auth, identity.create_token(OWNER, "t2", user="frank").secret, "churn")
    identity.create_user(OWNER, "gina")
    identity.assign(frank, "gina", "reader", "churn")
    with pytest.raises(PermissionDenied, match="every workspace"):
        identity.assign(frank, "gina", "reader", ALL_WORKSPACES)
    identity.unassign(OWNER, "frank", "publisher", "churn")
    with pytest.raises(NotFound):
        identity.unassign(OWNER, "frank", "publisher", "churn")
    with pytest.raises(Conflict, match="last enabled owner"):
        identity.unassign(OWNER, "admin", "owner", ALL_WORKSPACES)
    with pytest.raises(Conflict, match="last enabled owner"):
        identity.set_disabled(OWNER, "admin", True)
    identity.assign(OWNER, "gina", "owner", ALL_WORKSPACES)
    identity.set_disabled(OWNER, "admin", True)  # gina is an owner now


def test_secrets_are_encrypted_checked_and_revealed_only_on_purpose(
    db: SqlDatabase, database_url: str, tmp_path: Path
) -> None:
    key = load_key(tmp_path, None)
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
    assert load_key(tmp_path, None) == key
    secrets = SecretService(db, FernetCipher(key))
    churn = RequestContext(
        Principal("admin", grants=Grants.of([(ALL_WORKSPACES, BUILTIN_ROLES["owner"])])), "churn"
    )
    info, created = secrets.set(churn, "PG_PASSWORD", "hunter2-value")
    assert created and info.name == "PG_PASSWORD"
    assert secrets.set(churn, "PG_PASSWORD", "hunter3-value")[1] is False
    with db.read() as uow:
        stored = uow.secrets.get("churn", "PG_PASSWORD")
    assert stored is not None and "hunter" not in stored
    raw = db.engine.connect()
    try:
        dumped = " ".join(str(row) for row in raw.execute(text("SELECT * FROM secrets")))
    finally:
        raw.close()
    assert "hunter" not in dumped
    for name, value, error in (
        ("bad name", "v", "secret name"),
        ("OK", "", "non-empty"),
        ("OK", "x" * 70_000, "at most"),
    ):
        with pytest.raises(InvalidArgument, match=error):
            secrets.set(churn, name, value)
    ref = "postgresql://u:${{secrets.PG_PASSWORD}}@h/db"
    assert secrets.check_refs(churn, [ref], "job.yml") == {"PG_PASSWORD"}
    with pytest.raises(InvalidArgument, match="does not have: NOPE"):
        secrets.check_refs(churn, ["${{secrets.NOPE}}"], "job.yml")
    reader = RequestContext(
        Principal("r", grants=Grants.of([(ALL_WORKSPACES, BUILTIN_ROLES["reader"])])), "churn"
    )
    with pytest.raises(PermissionDenied, match="secrets:use"):
        secrets.check_refs(reader, [ref], "job.yml")
    elsewhere = RequestContext(churn.principal, "fraud")
    with pytest.raises(InvalidArgument, match="does not have"):
        secrets.check_refs(elsewhere, [ref], "job.yml")
    identity = IdentityService(db)
    env = ProcessCredentials(identity, secrets, tokens=False).reveal("churn", {"URL": ref, "PLAIN": "x"})
    assert env.env == {"PLAIN": "x"}
    assert env.secret_env == {"URL": "postgresql://u:hunter3-value@h/db"}
    (tmp_path / "elsewhere").mkdir()
    other_key = SecretService(db, FernetCipher(load_key(tmp_path / "elsewhere", None)))
    with pytest.raises(Unavailable, match="cannot be decrypted"):
        other_key.reveal("churn", {"URL": ref})
    with pytest.raises(InvalidArgument, match="not a secret key"):
        load_key(tmp_path, "not-a-key")
    secrets.delete(churn, "PG_PASSWORD")
    with pytest.raises(NotFound):
        secrets.delete(churn, "PG_PASSWORD")


def test_the_audit_chain_under_concurrent_appends_verifies_and_finds_tampering(db: SqlDatabase) -> None:
    log = AuditLog(db)
    try:

        def append(i: int) -> int:
            done = log.record(
                actor=f"user{i % 3}", action="jobs:create", target=f"POST /x/{i}", workspace="default",
                status=201, outcome="ok", detail={"i": i},
            )  # fmt: skip
            return done.result(timeout=30)

        with ThreadPoolExecutor(8) as pool:
            seqs = sorted(pool.map(append, range(200)))
    finally:
        log.stop()
    assert seqs == list(range(1, 201))
    result = log.verify()
    assert (result.ok, result.entries, result.head_seq) == (True, 200, 200)
    newest = log.search(actor="user1", limit=5)
    assert len(newest) == 5 and {e.actor for e in newest} == {"user1"}
    assert [e.seq for e in newest] == sorted((e.seq for e in newest), reverse=True)
    assert len(log.search(actor="user1", limit=1000)) == 67
    assert len(log.search(action="jobs", limit=1000)) == 200 and log.search(action="models") == []
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET status = 200 WHERE seq = 50"))
    broken = log.verify()
    assert (broken.ok, broken.first_bad_seq) == (False, 50) and "changed" in (broken.problem or "")
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET status = 201 WHERE seq = 50"))
        conn.execute(text("DELETE FROM audit_log WHERE seq >= 190"))
    cut = log.verify()
    assert (cut.ok, cut.first_bad_seq) == (False, 190) and "removed" in (cut.problem or "")
