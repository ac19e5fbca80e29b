"""Every route by every built-in role, in-process (the app over ASGI, a real SQLite store).

Built from the app's own route table, so a new route is covered the day it is added:
- anonymous: 401 everywhere but ``/healthz`` (0 anonymous 2xx);
- each built-in role: no 2xx where the role lacks the route's permission (exactly 403), and
  no 401/403 where it holds it (the dummy ids make most of those a 404 or a 400);
- no 5xx anywhere: the dummy ids and empty bodies are a client's mistakes.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal

from shipyard.domain.access import BUILTIN_ROLES, EVERYTHING
from shipyard.domain.context import Principal, RequestContext
from shipyard.server.access import PUBLIC, SIGNED_IN, iter_app_routes, rule_for
from shipyard.server.app import create_app
from shipyard.settings import Settings
from tests.conftest import ADMIN_TOKEN

ADMIN = RequestContext(Principal("admin", authenticated=True, grants=EVERYTHING))
_PARAM = re.compile(r"\{([^}:]+)(:[^}]+)?\}")


@dataclass
class SyncClient:
    """httpx's ASGI transport is async; the tests read better without await."""

    portal: BlockingPortal
    client: httpx.AsyncClient

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.portal.call(partial(self.client.request, method, path, **kwargs))

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)


@contextmanager
def in_process(settings: Settings, headers: dict[str, str] | None = None) -> Iterator[SyncClient]:
    """The app of ``settings`` over ASGI, without its lifespan (no background loops): a
    client signed in with ``headers``; closes what the lifespan would have closed."""
    app = create_app(settings)
    with start_blocking_portal() as portal:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1", headers=headers or {}
        )
        try:
            yield SyncClient(portal, client)
        finally:
            portal.call(client.aclose)
            app.state.services.audit.stop()
            app.state.database.close()


@dataclass
class Harness:
    client: SyncClient
    tokens: dict[str, str]  # role → token of a user holding it globally
    routes: list[tuple[str, str, str]]  # method, concrete path, template


def _concrete(path: str) -> str:
    return _PARAM.sub(lambda m: "a.txt" if m.group(1) == "path" else "zz-missing", path)


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    home: Path = tmp_path_factory.mktemp("matrix")
    app = create_app(Settings(home=home, roles="api"))
    identity = app.state.services.identity
    tokens: dict[str, str] = {}
    for role in BUILTIN_ROLES:
        user = f"user-{role}"
        identity.create_user(ADMIN, user)
        identity.assign(ADMIN, user, role, "*")
        tokens[role] = identity.create_token(ADMIN, "matrix", user=user).secret
    routes = [
        (method, _concrete(path), path)
        for method, path, _ in iter_app_routes(app.router.routes)
        if not path.startswith("/endpoints")
    ]
    # The lifespan (job runner, deployments) stays off: the routes are what is tested.
    with start_blocking_portal() as portal:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1")
        try:
            yield Harness(SyncClient(portal, client), tokens, routes)
        finally:
            portal.call(client.aclose)
            app.state.services.audit.stop()


def _call(h: Harness, method: str, path: str, token: str | None) -> httpx.Response:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    if method in ("POST", "PUT", "PATCH", "DELETE"):
        return h.client.request(method, path, json={}, headers=headers)
    return h.client.request(method, path, headers=headers)


def test_the_table_covers_a_real_number_of_routes(harness: Harness) -> None:
    assert len(harness.routes) > 150  # native + MLflow under /api and /ajax-api


def test_no_route_answers_an_anonymous_caller_but_healthz(harness: Harness) -> None:
    opened = []
    for method, path, template in harness.routes:
        response = _call(harness, method, path, None)
        rule = rule_for(method, template)
        assert rule is not None
        if rule.permission == PUBLIC:
            continue
        if response.status_code != 401:
            opened.append(f"{method} {path}: {response.status_code}")
    assert opened == []
    assert harness.client.get("/healthz").status_code == 200


def test_a_bad_token_is_401_not_anonymous(harness: Harness) -> None:
    response = _call(harness, "GET", "/api/v1/experiments", "shy_not-a-token")
    assert response.status_code == 401
    assert "not valid" in response.json()["error"]["message"]


@pytest.mark.parametrize("role", sorted(BUILTIN_ROLES))
def test_each_role_gets_exactly_what_its_permissions_say(harness: Harness, role: str) -> None:
    granted = BUILTIN_ROLES[role].expanded()
    wrong: list[str] = []
    seen: Counter[tuple[bool, int]] = Counter()
    for method, path, template in harness.routes:
        rule = rule_for(method, template)
        assert rule is not None
        response = _call(harness, method, path, harness.tokens[role])
        status = response.status_code
        if status >= 500:
            wrong.append(f"{method} {path}: {status} {response.text[:200]}")
            continue
        allowed = rule.permission in (PUBLIC, SIGNED_IN) or rule.permission in granted
        # A studio page holds nothing itself: it answers with the status of the API calls behind
        # it, made with this role's token (tests/integration/studio checks those pages).
        page = template.startswith("/studio/")
        if allowed and status in (401, 403) and not page:
            wrong.append(f"{method} {path}: {status} though {role} holds {rule.permission}")
        if not allowed and status != 403:
            wrong.append(f"{method} {path}: {status} though {role} lacks {rule.permission}")
        seen[(allowed, status // 100 if status not in (401, 403) else status)] += 1
    assert wrong == []
    # Both sides were exercised: refusals, and routes that went past the check.
    assert seen[(False, 403)] > 0 or role == "owner"
    assert sum(n for (allowed, _), n in seen.items() if allowed) > 50


def test_the_owner_token_from_the_environment_is_the_admin(harness: Harness) -> None:
    me = harness.client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json()
    assert (me["user"], me["assignments"][0]["role"], me["assignments"][0]["workspace"]) == (
        "admin",
        "owner",
        "*",
    )
    assert "users:write" in me["permissions"]
