"""The MLflow REST API on Shipyard's store: the ``mlflow`` client works unchanged.

Each area is one router module; :func:`mount` serves them at MLflow's paths, under
``/api/…`` for the client and ``/ajax-api/…`` as MLflow's web UI calls them. Handlers are
thin: they parse MLflow's messages, call the same services as ``/api/v1``, and answer in
MLflow's JSON (``_convert``) and error format (``_route``). The routes stay out of the
OpenAPI document, which describes the native contract only.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request, Response
from starlette.routing import Match
from starlette.types import Scope

from shipyard.server.mlflow import (
    artifacts,
    datasets,
    experiments,
    gateway,
    graphql,
    issues,
    logged_model_artifacts,
    logged_models,
    metrics,
    registry,
    runs,
    scorers,
    trace_metrics,
    traces,
    ui,
    webhooks,
)
from shipyard.server.mlflow._route import MlflowApiError, MlflowRoute

__all__ = ["mount"]

_ROOTS = ("/api", "/ajax-api")
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]

# Routers served under <root>/2.0/mlflow. Add an area by adding its module here. Their paths
# never overlap; the hottest come first, since routes are tried in order.
TRACKING_ROUTERS: list[APIRouter] = [
    runs.router,
    metrics.router,
    experiments.router,
    registry.router,
    webhooks.router,  # the registry's webhooks (issue 18)
    logged_models.router,
    # What MLflow's web UI reads (issue 18): run and logged-model listings, dataset summaries.
    artifacts.list_router,
    logged_model_artifacts.router,
    ui.router,
]


def _not_found() -> APIRouter:
    """A catch-all, mounted last: unknown paths answer MLflow's ENDPOINT_NOT_FOUND."""
    router = APIRouter(route_class=MlflowRoute)

    @router.api_route("/{rest:path}", methods=_METHODS)
    def unknown(request: Request) -> Response:
        raise MlflowApiError(
            "ENDPOINT_NOT_FOUND",
            f"no MLflow endpoint {request.method} {request.url.path} on this server",
            404,
        )

    return router


class _Root(APIRouter):
    """Every MLflow route under one root (``/api`` or ``/ajax-api``), answering "no match"
    at once for any other path.

    FastAPI tries an app's routes one by one with a regular expression each (twice for the
    router that matches). Mounted in front of the native routers, the two roots cost a
    native request two ``startswith`` calls, and an MLflow request no longer walks every
    native route first: ~0.15 ms of every MLflow call (measured in
    docs/mlflow.md#where-the-time-of-a-small-call-goes).
    """

    def __init__(self, root: str) -> None:
        super().__init__()
        self.root = root
        self.prefixes = (f"{root}/2.0/mlflow", f"{root}/3.0/mlflow")  # 2.0/mlflow-artifacts too

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path: str = scope["path"]
        root_path: str = scope.get("root_path", "")
        if not path.removeprefix(root_path).startswith(self.prefixes):
            return Match.NONE, {}
        return super().matches(scope)


def _root(root: str) -> _Root:
    router = _Root(root)
    for area in TRACKING_ROUTERS:
        router.include_router(area, prefix="/2.0/mlflow")
    if root == "/ajax-api":  # MLflow serves these to its web UI only
        router.include_router(ui.ajax_router, prefix="/2.0/mlflow")
    router.include_router(artifacts.router, prefix="/2.0/mlflow-artifacts")
    router.include_router(artifacts.server_info_router, prefix="/3.0/mlflow")
    # MLflow 3's GenAI entities (issue 18): evaluation datasets, scorers, issues, the gateway.
    for area in (datasets.router, scorers.router, issues.router, gateway.router):
        router.include_router(area, prefix="/3.0/mlflow")
    if root == "/ajax-api":  # MLflow's UI runs judges on the server: refused here, at once
        router.include_router(gateway.invoke_router, prefix="/3.0/mlflow")
    # Tracing (issue 18): the 3.17 client calls its trace routes under both versions, and
    # the UI's charts query trace metrics under 3.0 only (MLflow's path).
    router.include_router(trace_metrics.router, prefix="/3.0/mlflow")
    for prefix in ("/2.0/mlflow", "/3.0/mlflow"):
        router.include_router(traces.router, prefix=prefix)
    if root == "/ajax-api":  # the UI's trace view reads spans as MLflow's traces.json
        router.include_router(traces.ajax_router, prefix="/2.0/mlflow")
    for prefix in ("/2.0/mlflow", "/2.0/mlflow-artifacts", "/3.0/mlflow"):
        router.include_router(_not_found(), prefix=prefix)
    return router


def mount(app: FastAPI) -> None:
    """Serve the MLflow API on ``app``. Call it before the native routers are included:
    its paths never overlap theirs, and in front they cost native requests nothing."""
    for root in _ROOTS:
        app.include_router(_root(root), prefix=root, include_in_schema=False)
    app.include_router(gateway.traffic_router, include_in_schema=False)  # /gateway/…: refused
    app.include_router(graphql.router, include_in_schema=False)  # MLflow's /graphql
