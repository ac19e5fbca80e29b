"""/api/v1/runs: runs, params and tags, search."""

from __future__ import annotations

from fastapi import APIRouter, Response

from shipyard.server.deps import Ctx, Svc, json_response
from shipyard.server.schemas import ParamsIn, RunIn, RunOut, RunPage, RunPatch, RunSearchIn, TagsIn

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/runs", tags=["runs"])


@router.post("", response_model=RunOut, status_code=201, summary="Start a run")
def create(body: RunIn, ctx: Ctx, svc: Svc) -> object:
    run = svc.tracking.create_run(
        ctx,
        body.experiment_id,
        name=body.name,
        start_time=body.start_time,
        tags=body.tags,
        params=body.params,
        parent_run_id=body.parent_run_id,
    )
    return json_response(RunOut.model_validate(run), 201)


@router.post("/search", response_model=RunPage, summary="Search runs with a filter, ordering and pages")
def search(body: RunSearchIn, ctx: Ctx, svc: Svc) -> object:
    found, token = svc.tracking.search_runs(
        ctx,
        body.experiment_ids,
        filter_string=body.filter,
        order_by=body.order_by,
        view=body.view,
        max_results=body.max_results,
        page_token=body.page_token,
    )
    return json_response(RunPage(runs=[RunOut.model_validate(r) for r in found], next_page_token=token))


@router.get("/{run_id}", response_model=RunOut, summary="Get a run with its params, tags and latest metrics")
def get(run_id: str, ctx: Ctx, svc: Svc) -> object:
    return json_response(RunOut.model_validate(svc.tracking.get_run(ctx, run_id)))


@router.patch("/{run_id}", response_model=RunOut, summary="Set a run's status, end time or name")
def patch(run_id: str, body: RunPatch, ctx: Ctx, svc: Svc) -> object:
    run = svc.tracking.update_run(ctx, run_id, status=body.status, end_time=body.end_time, name=body.name)
    return json_response(RunOut.model_validate(run))


@router.delete("/{run_id}", status_code=204, summary="Delete (soft) a run")
def delete(run_id: str, ctx: Ctx, svc: Svc) -> Response:
    svc.tracking.set_run_lifecycle(ctx, run_id, "deleted")
    return Response(status_code=204)


@router.post("/{run_id}/restore", status_code=204, summary="Restore a deleted run")
def restore(run_id: str, ctx: Ctx, svc: Svc) -> Response:
    svc.tracking.set_run_lifecycle(ctx, run_id, "active")
    return Response(status_code=204)


@router.post("/{run_id}/params", status_code=204, summary="Log params (immutable once set)")
def log_params(run_id: str, body: ParamsIn, ctx: Ctx, svc: Svc) -> Response:
    svc.tracking.log_params(ctx, run_id, body.params)
    return Response(status_code=204)


@router.post("/{run_id}/tags", status_code=204, summary="Set tags")
def set_tags(run_id: str, body: TagsIn, ctx: Ctx, svc: Svc) -> Response:
    svc.tracking.set_tags(ctx, run_id, body.tags)
    return Response(status_code=204)


@router.delete("/{run_id}/tags/{key:path}", status_code=204, summary="Delete a tag")
def delete_tag(run_id: str, key: str, ctx: Ctx, svc: Svc) -> Response:
    svc.tracking.delete_tag(ctx, run_id, key)
    return Response(status_code=204)
