"""Signing in, users, tokens, roles, secrets and the audit log, as a user drives them: one real
server for the module, the ``shipyard`` command run as a subprocess."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ADMIN_TOKEN, ServerProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = ServerProcess(tmp_path_factory.mktemp("access") / "home").start()
    try:
        yield server.url
    finally:
        server.stop()


def cli(
    *args: str, url: str, env: dict[str, str] | None = None, stdin: str | None = None, signed_in: bool = True
) -> subprocess.CompletedProcess[str]:
    """``shipyard ARGS`` against ``url``; as the owner (SHIPYARD_TOKEN) unless ``signed_in`` is False."""
    base = {k: v for k, v in os.environ.items() if k not in ("SHIPYARD_WORKSPACE", "SHIPYARD_TOKEN")}
    if signed_in:
        base["SHIPYARD_TOKEN"] = ADMIN_TOKEN
    return subprocess.run(
        [sys.executable, "-m", "shipyard", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env={**base, "SHIPYARD_URL": url, **(env or {})},
        timeout=120,
        check=False,
    )


def ok(
    *args: str, url: str, env: dict[str, str] | None = None, stdin: str | None = None, signed_in: bool = True
) -> str:
    done = cli(*args, url=url, env=env, stdin=stdin, signed_in=signed_in)
    assert done.returncode == 0, done.stderr
    return done.stdout


def new_token(url: str, user: str, name: str) -> str:
    return str(
        json.loads(ok("token", "create", "--user", user, "--name", name, "-o", "json", url=url))["token"]
    )


def test_login_stores_a_private_credential_that_later_commands_use(url: str, tmp_path: Path) -> None:
    creds = tmp_path / "config" / "credentials.json"
    env = {"SHIPYARD_CREDENTIALS": str(creds)}

    # No --token, no SHIPYARD_TOKEN, nothing stored: refused, with the way to sign in.
    done = cli("whoami", url=url, env=env, signed_in=False)
    assert done.returncode == 1
    assert "UNAUTHENTICATED" in done.stderr
    assert f"shipyard login --url {url}" in done.stderr
    assert "SHIPYARD_TOKEN" in done.stderr
    assert "Traceback" not in done.stderr

    refused = cli("login", "--token", "shy_not_a_token", url=url, env=env, signed_in=False)
    assert refused.returncode == 1
    assert "refused this token" in refused.stderr
    assert not creds.exists()

    out = ok("login", "--token", ADMIN_TOKEN, url=url, env=env, signed_in=False)
    assert "as admin" in out
    assert str(creds) in out
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert ADMIN_TOKEN not in out

    # The stored credential is what signs the next command in (SHIPYARD_TOKEN is unset).
    me = json.loads(ok("whoami", "-o", "json", url=url, env=env, signed_in=False))
    assert me["user"] == "admin"
    assert [(a["role"], a["workspace"]) for a in me["assignments"]] == [("owner", "*")]
    assert "users:write" in me["permissions"]
    table = ok("whoami", url=url, env=env, signed_in=False)
    assert "owner in every workspace" in table
    assert "users: read, write" in table

    ok("logout", url=url, env=env, signed_in=False)
    assert cli("whoami", url=url, env=env, signed_in=False).returncode == 1

    # --token-file - reads stdin: what `shipyard up` suggests with the admin.token file.
    ok("login", "--token-file", "-", url=url, env=env, signed_in=False, stdin=ADMIN_TOKEN + "\n")
    assert "admin" in ok("whoami", url=url, env=env, signed_in=False)


def test_users_and_tokens_sign_in_until_disabled_or_revoked(url: str) -> None:
    ok("user", "create", "bob", "--email", "bob@example.com", url=url)
    users = {u["name"]: u for u in json.loads(ok("user", "list", "-o", "json", url=url))}
    assert users["bob"]["email"] == "bob@example.com"
    assert users["bob"]["disabled"] is False

    before = time.time() * 1000
    made = json.loads(
        ok("token", "create", "--user", "bob", "--name", "laptop", "--expires", "30d", "-o", "json", url=url)
    )
    assert set(made) == {"token", "name", "user", "expires"}
    assert (made["name"], made["user"]) == ("laptop", "bob")
    assert before + 30 * 86_400_000 - 60_000 < made["expires"] < time.time() * 1000 + 30 * 86_400_000
    bob = made["token"]
    assert json.loads(ok("whoami", "-o", "json", "--token", bob, url=url))["user"] == "bob"

    # Table mode: the token alone on stdout (so $(…) captures it), the warning on stderr.
    done = cli("token", "create", "--user", "bob", "--name", "ci", url=url)
    assert done.returncode == 0, done.stderr
    ci = done.stdout.strip()
    assert ci.startswith("shy_")
    assert "\n" not in ci
    assert "only this once" in done.stderr

    listed = ok("token", "list", "--user", "bob", "-o", "json", url=url)
    assert {t["name"] for t in json.loads(listed)} == {"laptop", "ci"}
    assert bob not in listed
    assert ci not in listed
    assert "laptop" in ok("token", "list", "--user", "bob", url=url)

    ok("user", "disable", "bob", url=url)
    refused = cli("whoami", "--token", bob, url=url)
    assert refused.returncode == 1
    assert "UNAUTHENTICATED" in refused.stderr
    assert "disabled" in ok("user", "list", url=url)
    ok("user", "enable", "bob", url=url)
    assert "bob" in ok("whoami", "--token", bob, url=url)

    ok("token", "revoke", "--name", "laptop", "--user", "bob", url=url)
    assert cli("whoami", "--token", bob, url=url).returncode == 1
    assert "bob" in ok("whoami", "--token", ci, url=url)  # the other token still works

    bad = cli("token", "create", "--name", "x", "--expires", "3 weeks", url=url)
    assert bad.returncode == 2
    assert "30d" in bad.stderr


def test_custom_roles_assigned_in_one_workspace(url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("name: trainer\npermissions:\n  - jobs:create\n  - jobs:launch\n")
    done = cli("role", "create", "-f", str(bad), url=url)
    assert done.returncode == 1
    assert f"{bad} line 2" in done.stderr
    assert "unknown permission 'jobs:launch'" in done.stderr
    assert "Traceback" not in done.stderr

    good = tmp_path / "role.yml"
    good.write_text("name: trainer\ndescription: runs jobs\npermissions: [jobs:create, experiments:read]\n")
    ok("role", "create", "-f", str(good), url=url)
    assert "trainer" in ok("role", "list", url=url)
    role = json.loads(ok("role", "show", "trainer", "-o", "json", url=url))
    assert role["permissions"] == ["experiments:read", "jobs:create"]
    assert role["builtin"] is False

    ok("user", "create", "carol", url=url)
    carol = new_token(url, "carol", "laptop")
    denied = cli("experiment", "list", "--workspace", "team-a", "--token", carol, url=url)
    assert denied.returncode == 1
    assert "PERMISSION_DENIED" in denied.stderr
    assert "shipyard role assign" in denied.stderr

    ok("role", "assign", "carol", "--role", "trainer", "--workspace", "team-a", url=url)
    ok("experiment", "list", "--workspace", "team-a", "--token", carol, url=url)
    assert cli("experiment", "list", "--token", carol, url=url).returncode == 1  # not in 'default'
    me = json.loads(ok("whoami", "-o", "json", "--workspace", "team-a", "--token", carol, url=url))
    assert me["permissions"] == ["experiments:read", "jobs:create"]
    held = json.loads(ok("role", "show", "trainer", "-o", "json", url=url))["assignments"]
    assert [(a["user"], a["workspace"]) for a in held] == [("carol", "team-a")]

    ok("role", "revoke", "carol", "--role", "trainer", "--workspace", "team-a", url=url)
    assert cli("experiment", "list", "--workspace", "team-a", "--token", carol, url=url).returncode == 1

    # An owner of one workspace gives roles there (asked in that workspace), not everywhere.
    ok("user", "create", "dave", url=url)
    ok("role", "assign", "dave", "--role", "owner", "--workspace", "team-a", url=url)
    dave = new_token(url, "dave", "laptop")
    ok("role", "assign", "carol", "--role", "reader", "--workspace", "team-a", "--token", dave, url=url)
    everywhere = cli("role", "assign", "carol", "--role", "reader", "--token", dave, url=url)
    assert everywhere.returncode == 1
    assert "PERMISSION_DENIED" in everywhere.stderr
    ok("role", "revoke", "carol", "--role", "reader", "--workspace", "team-a", "--token", dave, url=url)

    # No --workspace: every workspace.
    ok("role", "assign", "carol", "--role", "reader", url=url)
    assert (
        json.loads(ok("whoami", "-o", "json", "--token", carol, url=url))["assignments"][0]["workspace"]
        == "*"
    )
    ok("role", "revoke", "carol", "--role", "reader", url=url)


def test_secrets_are_set_listed_and_deleted_without_showing_their_value(url: str, tmp_path: Path) -> None:
    value = "s3cret-value-do-not-print"
    file = tmp_path / "value.txt"
    file.write_text(value + "\n")
    done = cli("secret", "set", "DB_PASSWORD", "--value-file", str(file), url=url)
    assert done.returncode == 0, done.stderr
    assert "created" in done.stdout
    from_stdin = cli(
        "secret", "set", "API_KEY", "--value-file", "-", "--workspace", "team-b", url=url, stdin=value
    )
    assert from_stdin.returncode == 0, from_stdin.stderr
    again = cli("secret", "set", "DB_PASSWORD", "--value", value, url=url)
    assert "replaced" in again.stdout
    for answer in (done, from_stdin, again):
        assert value not in answer.stdout + answer.stderr

    table = ok("secret", "list", url=url)
    listed = json.loads(ok("secret", "list", "-o", "json", url=url))
    assert [s["name"] for s in listed] == ["DB_PASSWORD"]
    assert value not in table + json.dumps(listed)
    assert [
        s["name"] for s in json.loads(ok("secret", "list", "--workspace", "team-b", "-o", "json", url=url))
    ] == ["API_KEY"]

    ok("secret", "delete", "DB_PASSWORD", url=url)
    assert json.loads(ok("secret", "list", "-o", "json", url=url)) == []
    assert cli("secret", "delete", "DB_PASSWORD", url=url).returncode == 1
    assert cli("secret", "set", "X", url=url).returncode == 2  # neither --value nor --value-file


def test_audit_lists_changes_and_verifies_its_chain(url: str) -> None:
    ok("secret", "set", "AUDITED", "--value", "v", url=url)
    entries = json.loads(ok("audit", "list", "--action", "secrets", "--since", "1h", "-o", "json", url=url))
    assert entries
    assert {e["action"] for e in entries} == {"secrets:write"}
    assert entries[0]["target"] == "PUT /api/v1/secrets/AUDITED"
    assert entries[0]["actor"] == "admin"
    assert "prev_hash" not in entries[0]
    assert [e["seq"] for e in entries] == sorted((e["seq"] for e in entries), reverse=True)

    assert len(json.loads(ok("audit", "list", "--limit", "2", "-o", "json", url=url))) == 2
    assert "AUDITED" in ok("audit", "list", "--actor", "admin", url=url)

    done = cli("audit", "verify", url=url)
    assert done.returncode == 0, done.stderr
    assert "intact" in done.stdout
    verified = json.loads(ok("audit", "verify", "-o", "json", url=url))
    assert verified["ok"] is True
    assert verified["head_seq"] >= entries[0]["seq"]
