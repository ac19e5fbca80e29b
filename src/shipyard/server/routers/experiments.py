"""/api/v1/experiments"""

from __future__ import annotations

from fastapi import APIRouter, Query

from shipyard.server.deps import Ctx, Svc, json_response
from shipyard.server.schemas import ExperimentIn, ExperimentOut, ExperimentPage, ExperimentPatch

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/experiments", tags=["experiments"])


@router.post("", response_model=ExperimentOut, status_code=201, summary="Create an experiment")
def create(body: ExperimentIn, ctx: Ctx, svc: Svc) -> object:
    found = svc.tracking.create_experiment(ctx, body.name, body.tags)
    return json_response(ExperimentOut.model_validate(found), 201)


@router.get("", response_model=ExperimentPage, summary="List experiments")
def list_(
    ctx: Ctx,
    svc: Svc,
    view: str = Query("active", description="active, deleted or all"),
    max_results: int = Query(100, ge=1, le=1000),
    page_token: str | None = None,
) -> object:
    found, token = svc.tracking.list_experiments(ctx, view, max_results, page_token)
    return json_response(
        ExperimentPage(experiments=[ExperimentOut.model_validate(e) for e in found], next_page_token=token)
    )


# `:path` because experiment names may hold '/' (e.g. "team/churn"), which arrive decoded.
@router.get("/by-name/{name:path}", response_model=ExperimentOut, summary="Get an experiment by name")
def by_name(name: str, ctx: Ctx, svc: Svc) -> object:
    return json_response(ExperimentOut.model_validate(svc.tracking.get_experiment_by_name(ctx, name)))


@router.get("/{experiment_id}", response_model=ExperimentOut, summary="Get an experiment")
def get(experiment_id: str, ctx: Ctx, svc: Svc) -> object:
    return json_response(ExperimentOut.model_validate(svc.tracking.get_experiment(ctx, experiment_id)))


@router.patch("/{experiment_id}", response_model=ExperimentOut, summary="Rename or tag an experiment")
def patch(experiment_id: str, body: ExperimentPatch, ctx: Ctx, svc: Svc) -> object:
    found = svc.tracking.update_experiment(ctx, experiment_id, name=body.name, tags=body.tags)
    return json_response(ExperimentOut.model_validate(found))


@router.delete("/{experiment_id}", response_model=ExperimentOut, summary="Delete (soft) an experiment")
def delete(experiment_id: str, ctx: Ctx, svc: Svc) -> object:
    found = svc.tracking.update_experiment(ctx, experiment_id, lifecycle_stage="deleted")
    return json_response(ExperimentOut.model_validate(found))


@router.post("/{experiment_id}/restore", response_model=ExperimentOut, summary="Restore a deleted experiment")
def restore(experiment_id: str, ctx: Ctx, svc: Svc) -> object:
    found = svc.tracking.update_experiment(ctx, experiment_id, lifecycle_stage="active")
    return json_response(ExperimentOut.model_validate(found))
