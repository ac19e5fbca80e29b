"""The one authorization point: every route's permission, in one table, checked in one place.

:data:`ROUTES` maps each route (method and path template) to a :class:`Rule`. The app runs
:func:`authorize` before every FastAPI route's own dependencies; a route missing from the
table stops the server from starting (and ``tests/unit/test_route_permissions.py`` fails
the build). The
scoring router, a raw ASGI app, checks its own rule (:data:`SCORING`) the same way.

Three kinds of rule:
- ``public``: no principal needed: ``/healthz``, and what is the same on every server of a
  version and holds no data (``/``, ``/docs`` and its assets, ``/openapi.json``);
- ``signed-in``: any principal; the service decides what it may see (whoami, own tokens);
- a permission (``jobs:create``), held in the request's workspace (``Shipyard-Workspace``),
  or for server-wide things (users, roles, the audit log, ``/metrics``) held globally.

MLflow's routes are listed once under ``/api``; MLflow's web UI calls the same ones under
``/ajax-api``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from fastapi import Request
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute

from shipyard.domain.access import ALL_WORKSPACES, check_permission
from shipyard.domain.context import Principal
from shipyard.errors import PermissionDenied, Unauthenticated
from shipyard.resources import resources

__all__ = [
    "PUBLIC",
    "ROUTES",
    "SCORING",
    "SIGNED_IN",
    "Rule",
    "authorize",
    "bind_rules",
    "iter_app_routes",
    "resource_rules",
    "rule_for",
]

PUBLIC = "public"
SIGNED_IN = "signed-in"


@dataclass(frozen=True, slots=True)
class Rule:
    permission: str  # PUBLIC, SIGNED_IN or resource:action
    server_wide: bool = False  # held globally, not in the request's workspace
    upload: bool = False  # a streamed body: the upload limit, and multipart allowed

    def __post_init__(self) -> None:
        if self.permission not in (PUBLIC, SIGNED_IN):
            check_permission(self.permission)


def _r(permission: str, **kw: bool) -> Rule:
    return Rule(permission, **kw)


_V1 = "/api/v1"
_ML = "/api/2.0/mlflow"
_MA = "/api/2.0/mlflow-artifacts"

ROUTES: Mapping[tuple[str, str], Rule] = {
    # -- the server ------------------------------------------------------------------
    ("GET", "/healthz"): _r(PUBLIC),
    ("GET", "/metrics"): _r("server:metrics", server_wide=True),
    # The same on every server of a version, and no data: a browser needs them to sign in.
    ("GET", "/openapi.json"): _r(PUBLIC),
    ("GET", "/docs"): _r(PUBLIC),
    ("GET", "/docs/static/{name}"): _r(PUBLIC),
    # -- identity, secrets, audit (issue 10) -----------------------------------------
    ("GET", f"{_V1}/whoami"): _r(SIGNED_IN),
    ("GET", f"{_V1}/workspaces"): _r(SIGNED_IN),
    ("POST", f"{_V1}/users"): _r("users:write", server_wide=True),
    ("GET", f"{_V1}/users"): _r("users:read", server_wide=True),
    ("POST", f"{_V1}/users/{{name}}/disable"): _r("users:write", server_wide=True),
    ("POST", f"{_V1}/users/{{name}}/enable"): _r("users:write", server_wide=True),
    ("POST", f"{_V1}/tokens"): _r(SIGNED_IN),  # one's own; another user's needs users:write
    ("GET", f"{_V1}/tokens"): _r(SIGNED_IN),
    ("DELETE", f"{_V1}/tokens/{{name}}"): _r(SIGNED_IN),
    ("GET", f"{_V1}/roles"): _r("roles:read", server_wide=True),
    ("GET", f"{_V1}/roles/{{name}}"): _r("roles:read", server_wide=True),
    ("POST", f"{_V1}/roles"): _r("roles:write", server_wide=True),
    # In the workspace assigned (the CLI sends it as the header); '*' needs a global grant.
    ("GET", f"{_V1}/role-assignments"): _r("roles:read"),
    ("POST", f"{_V1}/role-assignments"): _r("roles:write"),
    ("DELETE", f"{_V1}/role-assignments"): _r("roles:write"),
    ("GET", f"{_V1}/secrets"): _r("secrets:read"),
    ("PUT", f"{_V1}/secrets/{{name}}"): _r("secrets:write"),
    ("DELETE", f"{_V1}/secrets/{{name}}"): _r("secrets:write"),
    ("GET", f"{_V1}/audit"): _r("audit:read", server_wide=True),
    ("GET", f"{_V1}/audit/verify"): _r("audit:read", server_wide=True),
    # -- experiments and runs --------------------------------------------------------
    ("POST", f"{_V1}/experiments"): _r("experiments:write"),
    ("GET", f"{_V1}/experiments"): _r("experiments:read"),
    ("GET", f"{_V1}/experiments/by-name/{{name}}"): _r("experiments:read"),
    ("GET", f"{_V1}/experiments/{{experiment_id}}"): _r("experiments:read"),
    ("PATCH", f"{_V1}/experiments/{{experiment_id}}"): _r("experiments:write"),
    ("DELETE", f"{_V1}/experiments/{{experiment_id}}"): _r("experiments:delete"),
    ("POST", f"{_V1}/experiments/{{experiment_id}}/restore"): _r("experiments:write"),
    ("POST", f"{_V1}/runs"): _r("experiments:write"),
    ("POST", f"{_V1}/runs/search"): _r("experiments:read"),
    ("GET", f"{_V1}/runs/{{run_id}}"): _r("experiments:read"),
    ("PATCH", f"{_V1}/runs/{{run_id}}"): _r("experiments:write"),
    ("DELETE", f"{_V1}/runs/{{run_id}}"): _r("experiments:delete"),
    ("POST", f"{_V1}/runs/{{run_id}}/restore"): _r("experiments:write"),
    ("POST", f"{_V1}/runs/{{run_id}}/params"): _r("experiments:write"),
    ("POST", f"{_V1}/runs/{{run_id}}/tags"): _r("experiments:write"),
    ("DELETE", f"{_V1}/runs/{{run_id}}/tags/{{key}}"): _r("experiments:delete"),
    ("POST", f"{_V1}/runs/{{run_id}}/metrics"): _r("experiments:write"),
    ("GET", f"{_V1}/runs/{{run_id}}/metrics/history"): _r("experiments:read"),
    ("PUT", f"{_V1}/runs/{{run_id}}/artifacts/{{path}}"): _r("experiments:write", upload=True),
    ("GET", f"{_V1}/runs/{{run_id}}/artifacts/{{path}}"): _r("experiments:read"),
    ("GET", f"{_V1}/runs/{{run_id}}/artifacts"): _r("experiments:read"),
    # -- the model registry ----------------------------------------------------------
    ("POST", f"{_V1}/models"): _r("models:write"),
    ("GET", f"{_V1}/models"): _r("models:read"),
    ("GET", f"{_V1}/models/{{name}}"): _r("models:read"),
    ("PATCH", f"{_V1}/models/{{name}}"): _r("models:write"),
    ("DELETE", f"{_V1}/models/{{name}}/tags/{{key}}"): _r("models:delete"),
    ("POST", f"{_V1}/models/{{name}}/versions"): _r("models:write"),
    ("GET", f"{_V1}/models/{{name}}/versions"): _r("models:read"),
    ("GET", f"{_V1}/models/{{name}}/versions/{{version}}"): _r("models:read"),
    ("PATCH", f"{_V1}/models/{{name}}/versions/{{version}}"): _r("models:write"),
    ("DELETE", f"{_V1}/models/{{name}}/versions/{{version}}/tags/{{key}}"): _r("models:delete"),
    ("PUT", f"{_V1}/models/{{name}}/aliases/{{alias}}"): _r("models:write"),
    ("DELETE", f"{_V1}/models/{{name}}/aliases/{{alias}}"): _r("models:delete"),
    ("GET", f"{_V1}/models/{{name}}/history"): _r("models:read"),
    # -- code snapshots (content-addressed blobs) -------------------------------------
    ("POST", f"{_V1}/blobs/missing"): _r("snapshots:write"),
    ("PUT", f"{_V1}/blobs/{{sha256}}"): _r("snapshots:write", upload=True),
    ("GET", f"{_V1}/blobs/{{sha256}}"): _r("snapshots:read"),
    ("POST", f"{_V1}/snapshots"): _r("snapshots:write"),
    ("GET", f"{_V1}/snapshots/{{digest}}"): _r("snapshots:read"),
    ("GET", f"{_V1}/snapshots/{{digest}}/files/{{path}}"): _r("snapshots:read"),
    # -- data, environments, computes, jobs ------------------------------------------
    ("POST", f"{_V1}/data"): _r("data:write"),
    ("GET", f"{_V1}/data"): _r("data:read"),
    ("GET", f"{_V1}/data/{{name}}/versions"): _r("data:read"),
    ("GET", f"{_V1}/data/{{name}}/versions/{{version}}"): _r("data:read"),
    ("POST", f"{_V1}/environments"): _r("environments:write"),
    ("GET", f"{_V1}/environments"): _r("environments:read"),
    ("GET", f"{_V1}/environments/{{name}}"): _r("environments:read"),
    ("GET", f"{_V1}/environments/{{name}}/versions"): _r("environments:read"),
    ("GET", f"{_V1}/environments/{{name}}/versions/{{version}}"): _r("environments:read"),
    ("POST", f"{_V1}/computes"): _r("computes:write"),
    ("GET", f"{_V1}/computes"): _r("computes:read"),
    ("GET", f"{_V1}/computes/{{name}}"): _r("computes:read"),
    ("DELETE", f"{_V1}/computes/{{name}}"): _r("computes:delete"),
    ("POST", f"{_V1}/jobs"): _r("jobs:create"),
    # A read: it answers what exists (what jobs:read holders may see), and writes nothing.
    ("POST", f"{_V1}/jobs/check"): _r("jobs:read"),
    ("GET", f"{_V1}/jobs"): _r("jobs:read"),
    ("GET", f"{_V1}/jobs/{{name}}"): _r("jobs:read"),
    ("POST", f"{_V1}/jobs/{{name}}/cancel"): _r("jobs:cancel"),
    ("GET", f"{_V1}/jobs/{{name}}/logs"): _r("jobs:read"),
    # -- online endpoints --------------------------------------------------------------
    ("POST", f"{_V1}/online-endpoints"): _r("endpoints:write"),
    ("GET", f"{_V1}/online-endpoints"): _r("endpoints:read"),
    ("GET", f"{_V1}/online-endpoints/{{name}}"): _r("endpoints:read"),
    ("PATCH", f"{_V1}/online-endpoints/{{name}}"): _r("endpoints:write"),
    ("DELETE", f"{_V1}/online-endpoints/{{name}}"): _r("endpoints:delete"),
    ("POST", f"{_V1}/online-endpoints/{{name}}/keys"): _r("endpoints:keys"),
    ("POST", f"{_V1}/online-endpoints/{{name}}/regenerate-keys"): _r("endpoints:keys"),
    ("POST", f"{_V1}/online-endpoints/{{name}}/deployments"): _r("endpoints:write"),
    ("GET", f"{_V1}/online-endpoints/{{name}}/deployments"): _r("endpoints:read"),
    ("GET", f"{_V1}/online-endpoints/{{name}}/deployments/{{deployment}}"): _r("endpoints:read"),
    ("PUT", f"{_V1}/online-endpoints/{{name}}/deployments/{{deployment}}"): _r("endpoints:write"),
    ("DELETE", f"{_V1}/online-endpoints/{{name}}/deployments/{{deployment}}"): _r("endpoints:delete"),
    ("GET", f"{_V1}/online-endpoints/{{name}}/deployments/{{deployment}}/logs"): _r("endpoints:read"),
    ("GET", f"{_V1}/online-endpoints/{{name}}/deployments/{{deployment}}/progress"): _r("endpoints:read"),
    # -- batch endpoints ---------------------------------------------------------------
    ("POST", f"{_V1}/batch-endpoints"): _r("batch-endpoints:write"),
    ("GET", f"{_V1}/batch-endpoints"): _r("batch-endpoints:read"),
    ("GET", f"{_V1}/batch-endpoints/{{name}}"): _r("batch-endpoints:read"),
    ("DELETE", f"{_V1}/batch-endpoints/{{name}}"): _r("batch-endpoints:delete"),
    ("POST", f"{_V1}/batch-endpoints/{{name}}/deployments"): _r("batch-endpoints:write"),
    ("GET", f"{_V1}/batch-endpoints/{{name}}/deployments"): _r("batch-endpoints:read"),
    ("GET", f"{_V1}/batch-endpoints/{{name}}/deployments/{{deployment}}"): _r("batch-endpoints:read"),
    ("PUT", f"{_V1}/batch-endpoints/{{name}}/deployments/{{deployment}}"): _r("batch-endpoints:write"),
    ("DELETE", f"{_V1}/batch-endpoints/{{name}}/deployments/{{deployment}}"): _r("batch-endpoints:delete"),
    ("POST", f"{_V1}/batch-endpoints/{{name}}/jobs"): _r("batch-endpoints:invoke"),
    ("GET", f"{_V1}/batch-endpoints/{{name}}/jobs"): _r("batch-endpoints:read"),
    # -- the MLflow API: experiments and runs ------------------------------------------
    ("GET", f"{_ML}/experiments/get-by-name"): _r("experiments:read"),
    ("POST", f"{_ML}/experiments/create"): _r("experiments:write"),
    ("GET", f"{_ML}/experiments/get"): _r("experiments:read"),
    ("GET", f"{_ML}/experiments/search"): _r("experiments:read"),
    ("POST", f"{_ML}/experiments/search"): _r("experiments:read"),
    ("POST", f"{_ML}/experiments/delete"): _r("experiments:delete"),
    ("POST", f"{_ML}/experiments/restore"): _r("experiments:write"),
    ("POST", f"{_ML}/experiments/update"): _r("experiments:write"),
    ("POST", f"{_ML}/experiments/set-experiment-tag"): _r("experiments:write"),
    ("POST", f"{_ML}/experiments/delete-experiment-tag"): _r("experiments:delete"),
    ("POST", f"{_ML}/runs/create"): _r("experiments:write"),
    ("GET", f"{_ML}/runs/get"): _r("experiments:read"),
    ("POST", f"{_ML}/runs/update"): _r("experiments:write"),
    ("POST", f"{_ML}/runs/delete"): _r("experiments:delete"),
    ("POST", f"{_ML}/runs/restore"): _r("experiments:write"),
    ("POST", f"{_ML}/runs/search"): _r("experiments:read"),
    ("POST", f"{_ML}/runs/log-metric"): _r("experiments:write"),
    ("POST", f"{_ML}/runs/log-batch"): _r("experiments:write"),
    ("POST", f"{_ML}/runs/log-parameter"): _r("experiments:write"),
    ("POST", f"{_ML}/runs/set-tag"): _r("experiments:write"),
    ("POST", f"{_ML}/runs/delete-tag"): _r("experiments:delete"),
    ("POST", f"{_ML}/runs/log-inputs"): _r("experiments:write"),
    ("POST", f"{_ML}/runs/outputs"): _r("experiments:write"),
    ("GET", f"{_ML}/metrics/get-history"): _r("experiments:read"),
    ("GET", f"{_ML}/metrics/get-history-bulk-interval"): _r("experiments:read"),
    # -- the MLflow API: the model registry --------------------------------------------
    ("POST", f"{_ML}/registered-models/create"): _r("models:write"),
    ("GET", f"{_ML}/registered-models/get"): _r("models:read"),
    ("GET", f"{_ML}/registered-models/search"): _r("models:read"),
    ("POST", f"{_ML}/registered-models/search"): _r("models:read"),
    ("POST", f"{_ML}/registered-models/rename"): _r("models:write"),
    ("PATCH", f"{_ML}/registered-models/update"): _r("models:write"),
    ("DELETE", f"{_ML}/registered-models/delete"): _r("models:delete"),
    ("POST", f"{_ML}/registered-models/set-tag"): _r("models:write"),
    ("DELETE", f"{_ML}/registered-models/delete-tag"): _r("models:delete"),
    ("GET", f"{_ML}/registered-models/get-latest-versions"): _r("models:read"),
    ("POST", f"{_ML}/registered-models/get-latest-versions"): _r("models:read"),
    ("POST", f"{_ML}/registered-models/alias"): _r("models:write"),
    ("DELETE", f"{_ML}/registered-models/alias"): _r("models:delete"),
    ("GET", f"{_ML}/registered-models/alias"): _r("models:read"),
    ("POST", f"{_ML}/model-versions/create"): _r("models:write"),
    ("GET", f"{_ML}/model-versions/get"): _r("models:read"),
    ("GET", f"{_ML}/model-versions/search"): _r("models:read"),
    ("POST", f"{_ML}/model-versions/search"): _r("models:read"),
    ("PATCH", f"{_ML}/model-versions/update"): _r("models:write"),
    ("DELETE", f"{_ML}/model-versions/delete"): _r("models:delete"),
    ("POST", f"{_ML}/model-versions/transition-stage"): _r("models:write"),
    ("GET", f"{_ML}/model-versions/get-download-uri"): _r("models:read"),
    ("POST", f"{_ML}/model-versions/set-tag"): _r("models:write"),
    ("DELETE", f"{_ML}/model-versions/delete-tag"): _r("models:delete"),
    # -- the MLflow API: logged models and artifacts -----------------------------------
    ("POST", f"{_ML}/logged-models"): _r("experiments:write"),
    ("POST", f"{_ML}/logged-models/search"): _r("experiments:read"),
    ("GET", f"{_ML}/logged-models/{{model_id}}"): _r("experiments:read"),
    ("PATCH", f"{_ML}/logged-models/{{model_id}}"): _r("experiments:write"),
    ("DELETE", f"{_ML}/logged-models/{{model_id}}"): _r("experiments:delete"),
    ("PATCH", f"{_ML}/logged-models/{{model_id}}/tags"): _r("experiments:write"),
    ("DELETE", f"{_ML}/logged-models/{{model_id}}/tags/{{key}}"): _r("experiments:delete"),
    ("POST", f"{_ML}/logged-models/{{model_id}}/params"): _r("experiments:write"),
    ("PUT", f"{_MA}/artifacts/{{path}}"): _r("experiments:write", upload=True),
    ("GET", f"{_MA}/artifacts/{{path}}"): _r("experiments:read"),
    ("DELETE", f"{_MA}/artifacts/{{path}}"): _r("experiments:delete"),
    ("GET", f"{_MA}/artifacts"): _r("experiments:read"),
    ("GET", "/api/3.0/mlflow/server-info"): _r(SIGNED_IN),
    # -- the MLflow API: what its web UI reads (issue 18) --------------------------------
    # GraphQL: any principal may ask; each field checks the permission of its REST route
    # (experiments:read, models:read) and answers an error in its place without it.
    ("POST", "/graphql"): _r(SIGNED_IN),
    ("GET", "/graphql"): _r(SIGNED_IN),
    ("GET", f"{_ML}/artifacts/list"): _r("experiments:read"),
    ("GET", f"{_ML}/logged-models/{{model_id}}/artifacts/directories"): _r("experiments:read"),
    ("GET", f"{_ML}/logged-models/{{model_id}}/artifacts/files"): _r("experiments:read"),
    ("POST", f"{_ML}/experiments/search-datasets"): _r("experiments:read"),
    ("GET", f"{_ML}/metrics/get-history-bulk"): _r("experiments:read"),  # /ajax-api only
    ("POST", f"{_ML}/upload-artifact"): _r("experiments:write"),  # /ajax-api only
    # Unknown MLflow paths answer ENDPOINT_NOT_FOUND, to principals only.
    **{
        (method, f"{root}/{{rest}}"): _r(SIGNED_IN)
        for root in (_ML, _MA, "/api/3.0/mlflow")
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
    },
}

SCORING = Rule("endpoints:score")
"""``POST /endpoints/<name>/score``: the endpoint's key (``auth_mode: key``), or a token
holding this permission (``auth_mode: aml_token``). Checked by the scoring router."""


def _normalise(path: str) -> str:
    return "/api/" + path[len("/ajax-api/") :] if path.startswith("/ajax-api/") else path


def resource_rules() -> dict[tuple[str, str], Rule]:
    """The rules resources declare for routes of their own (``Resource.rules``): a resource
    added as new files brings its rules with it, checked like those of :data:`ROUTES`."""
    rules: dict[tuple[str, str], Rule] = {}
    for resource in resources():
        for key, rule in resource.rules.items():
            if key in ROUTES or key in rules:
                raise RuntimeError(f"{key[0]} {key[1]}: one route, two rules ({resource.name})")
            rules[key] = Rule(rule.permission, server_wide=rule.server_wide, upload=rule.upload)
    return rules


def rule_for(
    method: str, path_format: str, extra: Mapping[tuple[str, str], Rule] | None = None
) -> Rule | None:
    """The rule of a route: from :data:`ROUTES`, else from its resource (``extra``, when the
    caller computed :func:`resource_rules` once for many routes)."""
    key = (method, _normalise(path_format))
    found = ROUTES.get(key)
    if found is None:
        found = (resource_rules() if extra is None else extra).get(key)
    return found


def iter_app_routes(routes: list[BaseRoute]) -> Iterator[tuple[str, str, BaseRoute]]:
    """(method, path template, route) for every route the app serves, included ones too."""
    for context in iter_route_contexts(routes):
        path = context.path_format
        methods = getattr(context.original_route, "methods", None) or ()
        if path is None:
            continue
        for method in sorted(methods):
            if method != "HEAD":
                yield method, path, context.original_route


RouteRules = dict[tuple[int, str], Rule]


def bind_rules(routes: list[BaseRoute]) -> RouteRules:
    """Each served route's rule, keyed by the route object and method, for :func:`authorize`.

    Routers included under several prefixes (MLflow's ``/api`` and ``/ajax-api``) share
    their route objects, so the rule must not depend on the prefix. Raises when a route has
    no rule: such a server does not start.
    """
    bound: RouteRules = {}
    missing: list[str] = []
    extra = resource_rules()
    for method, path, route in iter_app_routes(routes):
        if not isinstance(route, APIRoute):
            continue
        rule = rule_for(method, path, extra)
        if rule is None:
            missing.append(f"{method} {path}")
            continue
        key = (id(route), method)
        if bound.setdefault(key, rule) != rule:
            raise RuntimeError(f"{method} {path}: one route, two rules")
    if missing:
        raise RuntimeError(f"routes without a permission in server/access.py: {', '.join(missing)}")
    return bound


async def authorize(request: Request) -> None:
    """Run before every FastAPI route: the caller holds the route's permission, or 401/403.

    The authentication middleware has put the principal (or None) on the request; the rule
    goes onto it too, for the audit entry written when the answer leaves. ``async`` though it
    never waits: FastAPI runs a plain ``def`` dependency in a worker thread, a hop of ~0.1 ms
    on every request.
    """
    route = request.scope.get("route")
    method = "GET" if request.method == "HEAD" else request.method
    rules: RouteRules = request.app.state.route_rules
    rule = rules.get((id(route), method))
    state = request.scope.setdefault("state", {})
    if rule is None:
        # Fail closed: a route nobody declared is nobody's.
        raise PermissionDenied(
            f"{request.method} {request.url.path} declares no permission; it is refused to everyone"
        )
    state["rule"] = rule
    if rule.permission == PUBLIC:
        return
    principal: Principal | None = state.get("principal")
    if principal is None:
        raise Unauthenticated(
            "sign in: send 'Authorization: Bearer <token>' (`shipyard login`, SHIPYARD_TOKEN or"
            " MLFLOW_TRACKING_TOKEN)"
        )
    if rule.permission == SIGNED_IN:
        return
    workspace = ALL_WORKSPACES if rule.server_wide else state.get("workspace", "default")
    if not principal.may(rule.permission, workspace):
        where = "on this server" if rule.server_wide else f"in workspace {workspace!r}"
        raise PermissionDenied(
            f"{principal.name!r} may not do this: {request.method} {request.url.path} needs"
            f" {rule.permission} {where}",
            permission=rule.permission,
        )
