"""Every route declares the permission it needs (issue 10: "a new route without a declared
permission fails the build"). Built from the app's own route table, so a route added
anywhere shows up here."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.routing import APIRoute

from shipyard.domain.access import ALL_PERMISSIONS, BUILTIN_ROLES, check_permission
from shipyard.server.access import PUBLIC, ROUTES, SIGNED_IN, iter_app_routes, resource_rules, rule_for
from shipyard.server.app import create_app
from shipyard.settings import Settings


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return create_app(Settings(home=tmp_path_factory.mktemp("home")))


def test_every_route_of_the_app_declares_a_permission(app) -> None:  # type: ignore[no-untyped-def]
    missing = [
        f"{method} {path}"
        for method, path, route in iter_app_routes(app.router.routes)
        if isinstance(route, APIRoute) and rule_for(method, path) is None
    ]
    assert missing == []


def test_only_the_scoring_mount_is_not_a_fastapi_route(app) -> None:  # type: ignore[no-untyped-def]
    # Any other starlette Route would skip the authorize dependency: the docs are ours.
    others = [
        path for _, path, route in iter_app_routes(app.router.routes) if not isinstance(route, APIRoute)
    ]
    assert others == []
    mounts = [getattr(r, "path", "") for r in app.router.routes if type(r).__name__ == "Mount"]
    assert mounts == ["/endpoints"]


def test_the_table_has_no_stale_rows(app) -> None:  # type: ignore[no-untyped-def]
    served = {(m, p.replace("/ajax-api/", "/api/", 1)) for m, p, _ in iter_app_routes(app.router.routes)}
    assert sorted(set(ROUTES) - served) == []


def test_only_health_the_static_pages_and_the_studio_are_public() -> None:
    public = {key for key, rule in ROUTES.items() if rule.permission == PUBLIC}
    studio = {key for key, rule in resource_rules().items() if rule.permission == PUBLIC}
    # The studio's pages hold no data (each comes from an API call with the caller's credential);
    # signing in takes the token in its body.
    assert all(
        path in ("/", "/login", "/api/v1/session") or path.startswith("/studio/") for _, path in studio
    )
    assert {key for key in studio if key[0] != "GET"} == {("POST", "/api/v1/session")}
    assert public == {
        ("GET", "/healthz"),
        ("GET", "/docs"),
        ("GET", "/docs/static/{name}"),
        ("GET", "/openapi.json"),
    }


def test_rules_name_permissions_of_the_catalogue() -> None:
    for rule in ROUTES.values():
        if rule.permission not in (PUBLIC, SIGNED_IN):
            assert rule.permission in ALL_PERMISSIONS


def test_builtin_roles_use_catalogue_permissions() -> None:
    for role in BUILTIN_ROLES.values():
        for permission in role.permissions:
            check_permission(permission)
        assert role.expanded()


def test_the_security_page_lists_every_route_and_role() -> None:
    page = (Path(__file__).parents[2] / "docs" / "security.md").read_text()
    for role in BUILTIN_ROLES:
        assert f"`{role}`" in page
    for permission in sorted(ALL_PERMISSIONS):
        assert f"`{permission}`" in page
