"""MLflow 3 logged models: ``/api/2.0/mlflow/logged-models*``.

A logged model's files live under its experiment's artifact prefix
(``mlflow-artifacts:/<workspace>/<experiment>/models/<model id>/artifacts``), where the
proxied artifact service stores what the client uploads; ``models:/m-<id>`` URIs resolve
through ``GET logged-models/{id}`` to that location.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import Field

from shipyard.domain.logged_models import LoggedModel, LoggedModelMetric
from shipyard.errors import InvalidArgument
from shipyard.server.deps import Ctx, Svc
from shipyard.server.mlflow._route import MlflowIn, MlflowRoute, finite, ok, payload
from shipyard.server.mlflow.experiments import resolve_experiment_id

__all__ = ["logged_model", "router"]

router = APIRouter(route_class=MlflowRoute)

ARTIFACT_SCHEME = "mlflow-artifacts:/"
# Our status → MLflow's LoggedModelStatus enum name (and its wire number).
_STATUS = {
    "PENDING": "LOGGED_MODEL_PENDING",
    "READY": "LOGGED_MODEL_READY",
    "FAILED": "LOGGED_MODEL_UPLOAD_FAILED",
}
_STATUS_IN = {
    **{v: k for k, v in _STATUS.items()},
    "1": "PENDING",
    "2": "READY",
    "3": "FAILED",
}


def _pairs(mapping: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in mapping.items()]


def _metric(point: LoggedModelMetric) -> dict[str, Any]:
    out: dict[str, Any] = {
        "key": point.key,
        "value": finite(point.value),
        "timestamp": point.timestamp,
        "step": point.step,
        "model_id": point.model_id,
        "run_id": point.run_id,
    }
    if point.dataset_name is not None:
        out["dataset_name"] = point.dataset_name
    if point.dataset_digest is not None:
        out["dataset_digest"] = point.dataset_digest
    return out


def logged_model(found: LoggedModel) -> dict[str, Any]:
    info: dict[str, Any] = {
        "model_id": found.model_id,
        "experiment_id": found.experiment_id,
        "name": found.name,
        "creation_timestamp_ms": found.created_at,
        "last_updated_timestamp_ms": found.updated_at,
        "artifact_uri": ARTIFACT_SCHEME + found.artifact_location,
        "status": _STATUS.get(found.status, "LOGGED_MODEL_STATUS_UNSPECIFIED"),
        "tags": _pairs(found.tags),
    }
    for key, value in (
        ("model_type", found.model_type),
        ("source_run_id", found.source_run_id),
        ("status_message", found.status_message),
    ):
        if value:
            info[key] = value
    return {
        "info": info,
        "data": {"params": _pairs(found.params), "metrics": [_metric(m) for m in found.metrics]},
    }


class _Pair(MlflowIn):
    key: str
    value: str


class CreateIn(MlflowIn):
    experiment_id: str
    name: str | None = None
    model_type: str | None = None
    source_run_id: str | None = None
    params: list[_Pair] = Field(default_factory=list)
    tags: list[_Pair] = Field(default_factory=list)


class FinalizeIn(MlflowIn):
    status: str | int


class TagsIn(MlflowIn):
    tags: list[_Pair] = Field(default_factory=list)


class ParamsIn(MlflowIn):
    params: list[_Pair] = Field(default_factory=list)


class _Order(MlflowIn):
    field_name: str
    ascending: bool = True


class _DatasetFilter(MlflowIn):
    dataset_name: str = ""
    dataset_digest: str | None = None


class SearchIn(MlflowIn):
    experiment_ids: list[str] = Field(default_factory=list)
    filter: str | None = None
    datasets: list[_DatasetFilter] = Field(default_factory=list)
    max_results: int | None = None
    order_by: list[_Order] = Field(default_factory=list)
    page_token: str | None = None


def _dict(pairs: list[_Pair]) -> dict[str, str]:
    return {p.key: p.value for p in pairs}


@router.post("/logged-models")
def create(ctx: Ctx, svc: Svc, body: Annotated[CreateIn, payload(CreateIn)]) -> Response:
    found = svc.logged_models.create(
        ctx,
        resolve_experiment_id(ctx, svc.tracking, body.experiment_id),
        name=body.name or None,
        model_type=body.model_type or None,
        source_run_id=body.source_run_id or None,
        params=_dict(body.params),
        tags=_dict(body.tags),
    )
    return ok({"model": logged_model(found)})


@router.post("/logged-models/search")
def search(ctx: Ctx, svc: Svc, body: Annotated[SearchIn, payload(SearchIn)]) -> Response:
    found, token = svc.logged_models.search(
        ctx,
        [resolve_experiment_id(ctx, svc.tracking, e) for e in body.experiment_ids],
        filter_string=body.filter,
        order_by=[(o.field_name, o.ascending) for o in body.order_by],
        max_results=body.max_results or 50,
        page_token=body.page_token,
        datasets=[(d.dataset_name, d.dataset_digest or None) for d in body.datasets],
    )
    out: dict[str, Any] = {"models": [logged_model(m) for m in found]}
    if token:
        out["next_page_token"] = token
    return ok(out)


@router.get("/logged-models/{model_id}")
def get(model_id: str, ctx: Ctx, svc: Svc) -> Response:
    return ok({"model": logged_model(svc.logged_models.get(ctx, model_id))})


@router.patch("/logged-models/{model_id}")
def finalize(model_id: str, ctx: Ctx, svc: Svc, body: Annotated[FinalizeIn, payload(FinalizeIn)]) -> Response:
    status = _STATUS_IN.get(str(body.status))
    if status is None:
        raise InvalidArgument(
            f"status must be LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED; got {str(body.status)[:40]!r}"
        )
    return ok({"model": logged_model(svc.logged_models.finalize(ctx, model_id, status))})


@router.delete("/logged-models/{model_id}")
def delete(model_id: str, ctx: Ctx, svc: Svc) -> Response:
    svc.logged_models.delete(ctx, model_id)
    return ok()


@router.patch("/logged-models/{model_id}/tags")
def set_tags(model_id: str, ctx: Ctx, svc: Svc, body: Annotated[TagsIn, payload(TagsIn)]) -> Response:
    return ok({"model": logged_model(svc.logged_models.set_tags(ctx, model_id, _dict(body.tags)))})


@router.delete("/logged-models/{model_id}/tags/{key:path}")
def delete_tag(model_id: str, key: str, ctx: Ctx, svc: Svc) -> Response:
    svc.logged_models.delete_tag(ctx, model_id, key)
    return ok()


@router.post("/logged-models/{model_id}/params")
def log_params(model_id: str, ctx: Ctx, svc: Svc, body: Annotated[ParamsIn, payload(ParamsIn)]) -> Response:
    svc.logged_models.log_params(ctx, model_id, _dict(body.params))
    return ok()
