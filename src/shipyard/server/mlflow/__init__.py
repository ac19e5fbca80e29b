"""The MLflow REST API on Shipyard's store: the ``mlflow`` client works unchanged.

Each area is one router module; :func:`mount` serves them at MLflow's paths, under
``/api/…`` for the client and ``/ajax-api/…`` as MLflow's web UI calls them. Handlers are
thin: they parse MLflow's messages, call the same services as ``/api/v1``, and answer in
MLflow's JSON (``_convert``) and error format (``_route``). The routes stay out of the
OpenAPI document, which describes the native contract only.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request, Response

from shipyard.server.mlflow import artifacts, experiments, logged_models, metrics, registry, runs
from shipyard.server.mlflow._route import MlflowApiError, MlflowRoute

__all__ = ["mount"]

_ROOTS = ("/api", "/ajax-api")
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]

# Routers served under <root>/2.0/mlflow. Add an area by adding its module here.
TRACKING_ROUTERS: list[APIRouter] = [
    experiments.router,
    runs.router,
    metrics.router,
    registry.router,
    logged_models.router,
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


def mount(app: FastAPI) -> None:
    """Serve the MLflow API on ``app`` (call after the native routers)."""
    for root in _ROOTS:
        for router in TRACKING_ROUTERS:
            app.include_router(router, prefix=f"{root}/2.0/mlflow", include_in_schema=False)
        app.include_router(artifacts.router, prefix=f"{root}/2.0/mlflow-artifacts", include_in_schema=False)
        app.include_router(artifacts.server_info_router, prefix=f"{root}/3.0/mlflow", include_in_schema=False)
    for root in _ROOTS:
        for prefix in ("2.0/mlflow", "2.0/mlflow-artifacts", "3.0/mlflow"):
            app.include_router(_not_found(), prefix=f"{root}/{prefix}", include_in_schema=False)
