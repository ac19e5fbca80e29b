"""/api/v1/computes: compute targets (``local`` is built in)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from shipyard.domain.jobs import Compute
from shipyard.server.deps import Ctx, Svc, json_response
from shipyard.server.job_schemas import ComputeIn, ComputeOut, ComputePage

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/computes", tags=["computes"])


def _out(compute: Compute) -> ComputeOut:
    return ComputeOut(
        name=compute.name,
        type=compute.kind,
        max_concurrent=compute.max_concurrent,
        address=compute.address,
        description=compute.description,
        created_at=compute.created_at,
        created_by=compute.created_by,
    )


@router.post("", response_model=ComputeOut, status_code=201, summary="Register a compute target")
def create(body: ComputeIn, ctx: Ctx, svc: Svc) -> object:
    found = svc.computes.create(
        ctx,
        body.name,
        body.type,
        max_concurrent=body.max_concurrent,
        address=body.address,
        description=body.description,
    )
    return json_response(_out(found), 201)


@router.get("", response_model=ComputePage, summary="List compute targets")
def list_(ctx: Ctx, svc: Svc) -> object:
    return json_response(ComputePage(computes=[_out(c) for c in svc.computes.list(ctx)]))


@router.get("/{name}", response_model=ComputeOut, summary="Get a compute target")
def get(name: str, ctx: Ctx, svc: Svc) -> object:
    return json_response(_out(svc.computes.get(ctx, name)))


@router.delete("/{name}", status_code=204, summary="Delete a compute target")
def delete(name: str, ctx: Ctx, svc: Svc) -> Response:
    svc.computes.delete(ctx, name)
    return Response(status_code=204)
