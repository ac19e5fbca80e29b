"""MLflow experiments: ``/api/2.0/mlflow/experiments/*``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import Field

from shipyard.domain.context import RequestContext
from shipyard.errors import AlreadyExists, InvalidArgument
from shipyard.server.deps import Ctx, Svc
from shipyard.server.mlflow import _convert as convert
from shipyard.server.mlflow._route import MlflowIn, MlflowRoute, ok, payload
from shipyard.services.tracking import DEFAULT_EXPERIMENT, TrackingService

__all__ = ["DEFAULT_EXPERIMENT_ID", "resolve_experiment_id", "router", "view_of"]

router = APIRouter(route_class=MlflowRoute)

# The id the mlflow client uses when no experiment was set. It names the workspace's
# ``Default`` experiment, whatever id that experiment has in our store.
DEFAULT_EXPERIMENT_ID = "0"

_VIEWS = {
    "ACTIVE_ONLY": "active",
    "DELETED_ONLY": "deleted",
    "ALL": "all",
    "1": "active",
    "2": "deleted",
    "3": "all",
}


def view_of(value: str | int | None) -> str:
    if value is None:
        return "active"
    try:
        return _VIEWS[str(value).upper()]
    except KeyError:
        raise InvalidArgument(f"view type must be ACTIVE_ONLY, DELETED_ONLY or ALL; got {value!r}") from None


def resolve_experiment_id(ctx: RequestContext, tracking: TrackingService, experiment_id: str) -> str:
    if experiment_id == DEFAULT_EXPERIMENT_ID:
        return tracking.get_experiment_by_name(ctx, DEFAULT_EXPERIMENT).id
    return experiment_id


class _Tag(MlflowIn):
    key: str
    value: str


class CreateIn(MlflowIn):
    name: str
    artifact_location: str | None = None
    tags: list[_Tag] = Field(default_factory=list)


class IdIn(MlflowIn):
    experiment_id: str


class ByNameIn(MlflowIn):
    experiment_name: str


class SearchIn(MlflowIn):
    max_results: int = 1000
    page_token: str | None = None
    filter: str | None = None
    order_by: list[str] = Field(default_factory=list)
    view_type: str | int | None = None


class UpdateIn(MlflowIn):
    experiment_id: str
    new_name: str


class TagIn(MlflowIn):
    experiment_id: str
    key: str
    value: str


class TagKeyIn(MlflowIn):
    experiment_id: str
    key: str


@router.get("/experiments/get-by-name")
def get_by_name(ctx: Ctx, svc: Svc, body: Annotated[ByNameIn, payload(ByNameIn)]) -> Response:
    found = svc.tracking.get_experiment_by_name(ctx, body.experiment_name)
    return ok({"experiment": convert.experiment(found)})


@router.post("/experiments/create")
def create(ctx: Ctx, svc: Svc, body: Annotated[CreateIn, payload(CreateIn)]) -> Response:
    if body.artifact_location:
        # Locations are server-chosen: a client-named root (file://, a fragment, another
        # bucket) is how MLflow's own path-traversal advisories began.
        raise InvalidArgument(
            "Shipyard chooses where artifacts live; create the experiment without artifact_location"
        )
    try:
        found = svc.tracking.create_experiment(ctx, body.name, {t.key: t.value for t in body.tags})
    except AlreadyExists as exc:  # the store's unique name, worded as MLflow words it
        raise AlreadyExists(exc.message, experiment_name=body.name) from None
    return ok({"experiment_id": found.id})


@router.get("/experiments/get")
def get(ctx: Ctx, svc: Svc, body: Annotated[IdIn, payload(IdIn)]) -> Response:
    experiment_id = resolve_experiment_id(ctx, svc.tracking, body.experiment_id)
    return ok({"experiment": convert.experiment(svc.tracking.get_experiment(ctx, experiment_id))})


@router.api_route("/experiments/search", methods=["GET", "POST"])
def search(ctx: Ctx, svc: Svc, body: Annotated[SearchIn, payload(SearchIn)]) -> Response:
    found, token = svc.tracking.search_experiments(
        ctx,
        filter_string=body.filter,
        order_by=body.order_by,
        view=view_of(body.view_type),
        max_results=body.max_results,
        page_token=body.page_token,
    )
    out: dict[str, object] = {"experiments": [convert.experiment(e) for e in found]}
    if token:
        out["next_page_token"] = token
    return ok(out)


def _set_stage(ctx: RequestContext, tracking: TrackingService, experiment_id: str, stage: str) -> None:
    tracking.set_experiment_lifecycle(ctx, resolve_experiment_id(ctx, tracking, experiment_id), stage)


@router.post("/experiments/delete")
def delete(ctx: Ctx, svc: Svc, body: Annotated[IdIn, payload(IdIn)]) -> Response:
    _set_stage(ctx, svc.tracking, body.experiment_id, "deleted")
    return ok()


@router.post("/experiments/restore")
def restore(ctx: Ctx, svc: Svc, body: Annotated[IdIn, payload(IdIn)]) -> Response:
    _set_stage(ctx, svc.tracking, body.experiment_id, "active")
    return ok()


@router.post("/experiments/update")
def update(ctx: Ctx, svc: Svc, body: Annotated[UpdateIn, payload(UpdateIn)]) -> Response:
    experiment_id = resolve_experiment_id(ctx, svc.tracking, body.experiment_id)
    svc.tracking.update_experiment(ctx, experiment_id, name=body.new_name)
    return ok()


@router.post("/experiments/set-experiment-tag")
def set_tag(ctx: Ctx, svc: Svc, body: Annotated[TagIn, payload(TagIn)]) -> Response:
    experiment_id = resolve_experiment_id(ctx, svc.tracking, body.experiment_id)
    svc.tracking.update_experiment(ctx, experiment_id, tags={body.key: body.value})
    return ok()


@router.post("/experiments/delete-experiment-tag")
def delete_tag(ctx: Ctx, svc: Svc, body: Annotated[TagKeyIn, payload(TagKeyIn)]) -> Response:
    experiment_id = resolve_experiment_id(ctx, svc.tracking, body.experiment_id)
    svc.tracking.delete_experiment_tag(ctx, experiment_id, body.key)
    return ok()
