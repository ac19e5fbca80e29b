"""/api/v1/batch-endpoints: batch endpoints, their deployments, and invocations (jobs)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from shipyard.domain.batch_endpoints import BatchDeployment, BatchEndpoint
from shipyard.domain.context import RequestContext
from shipyard.domain.redact import hide_passwords, mask_variables
from shipyard.errors import InvalidSpec
from shipyard.server.batch_schemas import (
    BatchDeploymentIn,
    BatchDeploymentOut,
    BatchDeploymentPage,
    BatchEndpointIn,
    BatchEndpointOut,
    BatchEndpointPage,
    BatchInvokeIn,
    BatchJobPage,
)
from shipyard.server.deps import Ctx, Svc, json_response
from shipyard.server.job_schemas import JobOut
from shipyard.server.routers.jobs import job_out
from shipyard.services.batch_endpoints import BatchDeploymentRequest
from shipyard.services.job_specs import InlineEnvironmentValues
from shipyard.specs import validate_spec
from shipyard.specs.batch_endpoint import BatchDeploymentSpec, BatchEndpointSpec

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/batch-endpoints", tags=["batch endpoints"])


def endpoint_out(endpoint: BatchEndpoint) -> BatchEndpointOut:
    return BatchEndpointOut(
        name=endpoint.name,
        description=endpoint.description,
        tags=endpoint.tags,
        default_deployment=endpoint.default_deployment,
        notes=list(endpoint.spec.get("notes") or []),
        created_at=endpoint.created_at,
        created_by=endpoint.created_by,
        updated_at=endpoint.updated_at,
    )


def deployment_out(d: BatchDeployment, ctx: RequestContext | None = None) -> BatchDeploymentOut:
    """``ctx``: who reads it; without batch-endpoints:write there, variable values are masked."""
    output = d.spec.get("output")
    settings = dict(d.spec.get("settings") or {})
    if ctx is None or not ctx.may("batch-endpoints:write"):
        settings = mask_variables(settings)
    return BatchDeploymentOut(
        name=d.name,
        endpoint_name=d.endpoint,
        model=d.model,
        compute=str(d.spec.get("compute", "local")),
        settings=settings,
        output=None if output is None else {**output, "sql_url": hide_passwords(output["sql_url"])},
        description=str(d.spec.get("description", "")),
        tags=dict(d.spec.get("tags") or {}),
        notes=list(d.spec.get("notes") or []),
        created_at=d.created_at,
        created_by=d.created_by,
        updated_at=d.updated_at,
    )


@router.post("", response_model=BatchEndpointOut, status_code=201, summary="Create a batch endpoint")
def create(body: BatchEndpointIn, ctx: Ctx, svc: Svc) -> object:
    spec = validate_spec(body.spec, BatchEndpointSpec, body.source)
    return json_response(endpoint_out(svc.batch_endpoints.create(ctx, spec)), 201)


@router.get("", response_model=BatchEndpointPage, summary="List batch endpoints by name")
def list_(ctx: Ctx, svc: Svc) -> object:
    found = svc.batch_endpoints.list(ctx)
    return json_response(BatchEndpointPage(endpoints=[endpoint_out(e) for e in found]))


@router.get("/{name}", response_model=BatchEndpointOut, summary="Get a batch endpoint")
def get(name: str, ctx: Ctx, svc: Svc) -> object:
    return json_response(endpoint_out(svc.batch_endpoints.get(ctx, name)))


@router.delete("/{name}", status_code=204, summary="Delete a batch endpoint with its deployments")
def delete(name: str, ctx: Ctx, svc: Svc) -> Response:
    svc.batch_endpoints.delete(ctx, name)
    return Response(status_code=204)


@router.post(
    "/{name}/deployments",
    response_model=BatchDeploymentOut,
    status_code=201,
    summary="Create a batch deployment (its model is pinned now; nothing runs until invoke)",
)
def create_deployment(name: str, body: BatchDeploymentIn, ctx: Ctx, svc: Svc) -> object:
    request = _request(name, body)
    return json_response(deployment_out(svc.batch_endpoints.create_deployment(ctx, request), ctx), 201)


def _request(endpoint: str, body: BatchDeploymentIn, hint: str = "") -> BatchDeploymentRequest:
    """The file checked as on create; it must name the endpoint of the URL."""
    spec = validate_spec(body.spec, BatchDeploymentSpec, body.source)
    if spec.endpoint_name != endpoint:
        raise InvalidSpec(
            f"{body.source}: endpoint_name is '{spec.endpoint_name}'"
            f" but the request is for batch endpoint '{endpoint}'{hint}",
            field="endpoint_name",
        )
    env = body.environment
    return BatchDeploymentRequest(
        spec=spec,
        source=body.source,
        raw=body.spec,
        model_snapshot=body.model_snapshot,
        code_snapshot=body.code_snapshot,
        environment=None
        if env is None
        else InlineEnvironmentValues(env.python, tuple(env.requirements), env.image),
        set_default=body.set_default,
    )


@router.get(
    "/{name}/deployments", response_model=BatchDeploymentPage, summary="List a batch endpoint's deployments"
)
def list_deployments(name: str, ctx: Ctx, svc: Svc) -> object:
    found = svc.batch_endpoints.list_deployments(ctx, name)
    return json_response(BatchDeploymentPage(deployments=[deployment_out(d, ctx) for d in found]))


@router.get(
    "/{name}/deployments/{deployment}", response_model=BatchDeploymentOut, summary="Get a batch deployment"
)
def get_deployment(name: str, deployment: str, ctx: Ctx, svc: Svc) -> object:
    return json_response(deployment_out(svc.batch_endpoints.get_deployment(ctx, name, deployment), ctx))


@router.put(
    "/{name}/deployments/{deployment}",
    response_model=BatchDeploymentOut,
    summary="Update a batch deployment: its file replaces the spec (running jobs keep theirs)",
)
def update_deployment(name: str, deployment: str, body: BatchDeploymentIn, ctx: Ctx, svc: Svc) -> object:
    svc.batch_endpoints.get_deployment(ctx, name, deployment)  # 404 before the file is read
    request = _request(name, body, "; a deployment cannot move to another endpoint")
    if request.spec.name != deployment:
        raise InvalidSpec(
            f"{body.source}: name is '{request.spec.name}' but the request is for batch deployment"
            f" '{deployment}'; a deployment cannot be renamed: create one under the new name",
            field="name",
        )
    return json_response(deployment_out(svc.batch_endpoints.update_deployment(ctx, request), ctx))


@router.delete("/{name}/deployments/{deployment}", status_code=204, summary="Delete a batch deployment")
def delete_deployment(name: str, deployment: str, ctx: Ctx, svc: Svc) -> Response:
    svc.batch_endpoints.delete_deployment(ctx, name, deployment)
    return Response(status_code=204)


@router.post(
    "/{name}/jobs",
    response_model=JobOut,
    status_code=201,
    summary="Invoke: score a data asset in mini-batches, as a job",
)
def invoke(name: str, body: BatchInvokeIn, ctx: Ctx, svc: Svc) -> object:
    job = svc.batch_jobs.invoke(ctx, name, body.input, body.deployment_name, body.job_name)
    return json_response(job_out(job), 201)


@router.get("/{name}/jobs", response_model=BatchJobPage, summary="The endpoint's jobs, newest first")
def list_jobs(
    name: str,
    ctx: Ctx,
    svc: Svc,
    max_results: Annotated[int, Query(ge=1, le=1000, description="At most this many jobs.")] = 100,
) -> object:
    jobs = svc.batch_jobs.list_jobs(ctx, name, max_results)
    # With their specs: which deployment scored which input is what a list of them is read for.
    return json_response(BatchJobPage(jobs=[job_out(j, with_spec=True, ctx=ctx) for j in jobs]))
