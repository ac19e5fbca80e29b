"""/api/v1/online-endpoints: endpoints, their keys and traffic, and their deployments."""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Query, Response

from shipyard.api.endpoints import DeploymentSystem, SystemMinute
from shipyard.domain.context import RequestContext
from shipyard.domain.endpoints import Deployment, Endpoint
from shipyard.domain.redact import mask_variables
from shipyard.errors import InvalidSpec
from shipyard.server.contract import TEXT_ANSWER
from shipyard.server.deps import Ctx, Services, Svc, json_response
from shipyard.server.endpoint_schemas import (
    DeploymentIn,
    DeploymentOut,
    DeploymentPage,
    DeploymentProgressOut,
    EndpointIn,
    EndpointKeys,
    EndpointOut,
    EndpointPage,
    EndpointUpdate,
    RegenerateKeysIn,
)
from shipyard.services.endpoint_deployments import DeploymentRequest
from shipyard.services.job_specs import InlineEnvironmentValues
from shipyard.services.monitoring.system import MAX_MINUTES, DeploymentSystemService
from shipyard.specs import validate_spec
from shipyard.specs.deployment import OnlineDeploymentSpec
from shipyard.specs.endpoint import OnlineEndpointSpec

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/online-endpoints", tags=["online endpoints"])

_NO_STORE = {"Cache-Control": "no-store"}


def endpoint_out(svc: Services, endpoint: Endpoint) -> EndpointOut:
    return EndpointOut(
        name=endpoint.name,
        auth_mode=str(endpoint.auth_mode),
        description=endpoint.description,
        tags=endpoint.tags,
        traffic=endpoint.traffic,
        mirror_traffic=endpoint.mirror_traffic,
        provisioning_state="Succeeded",
        scoring_uri=svc.endpoints.scoring_uri(endpoint.name),
        created_at=endpoint.created_at,
        created_by=endpoint.created_by,
        updated_at=endpoint.updated_at,
    )


def deployment_out(
    d: Deployment, *, with_spec: bool = False, ctx: RequestContext | None = None
) -> DeploymentOut:
    """``ctx``: who reads it; without endpoints:write there, variable values are masked."""
    spec = d.spec if with_spec else {}
    if spec and (ctx is None or not ctx.may("endpoints:write")):
        spec = mask_variables(spec)
    return DeploymentOut(
        name=d.name,
        endpoint_name=d.endpoint,
        provisioning_state=str(d.state),
        reason=d.reason,
        revision=d.revision,
        model=d.model,
        instance_count=int(d.spec.get("instance_count", 1)),
        description=str(d.spec.get("description", "")),
        tags=dict(d.spec.get("tags") or {}),
        notes=list(d.spec.get("notes") or []),
        created_at=d.created_at,
        created_by=d.created_by,
        updated_at=d.updated_at,
        spec=spec,
    )


@router.post("", response_model=EndpointOut, status_code=201, summary="Create an online endpoint")
def create(body: EndpointIn, ctx: Ctx, svc: Svc) -> object:
    spec = validate_spec(body.spec, OnlineEndpointSpec, body.source)
    return json_response(endpoint_out(svc, svc.endpoints.create(ctx, spec)), 201)


@router.get("", response_model=EndpointPage, summary="List online endpoints by name")
def list_(ctx: Ctx, svc: Svc) -> object:
    return json_response(EndpointPage(endpoints=[endpoint_out(svc, e) for e in svc.endpoints.list(ctx)]))


@router.get("/{name}", response_model=EndpointOut, summary="Get an online endpoint")
def get(name: str, ctx: Ctx, svc: Svc) -> object:
    return json_response(endpoint_out(svc, svc.endpoints.get(ctx, name)))


@router.patch(
    "/{name}", response_model=EndpointOut, summary="Change traffic, mirror traffic, description or tags"
)
def update(name: str, body: EndpointUpdate, ctx: Ctx, svc: Svc) -> object:
    endpoint = svc.endpoints.update(
        ctx,
        name,
        traffic=body.traffic,
        mirror_traffic=body.mirror_traffic,
        description=body.description,
        tags=body.tags,
    )
    return json_response(endpoint_out(svc, endpoint))


@router.delete("/{name}", status_code=204, summary="Delete an endpoint with all its deployments")
async def delete(name: str, ctx: Ctx, svc: Svc) -> Response:
    await to_thread.run_sync(svc.endpoints.delete, ctx, name)
    return Response(status_code=204)


@router.post("/{name}/keys", response_model=EndpointKeys, summary="The endpoint's keys (Azure's listKeys)")
def keys(name: str, ctx: Ctx, svc: Svc) -> object:
    primary, secondary = svc.endpoints.credentials(ctx, name)
    response = json_response(EndpointKeys(primaryKey=primary, secondaryKey=secondary))
    response.headers.update(_NO_STORE)
    return response


@router.post(
    "/{name}/regenerate-keys", response_model=EndpointOut, summary="Replace the primary or secondary key"
)
def regenerate_keys(name: str, body: RegenerateKeysIn, ctx: Ctx, svc: Svc) -> object:
    return json_response(endpoint_out(svc, svc.endpoints.regenerate(ctx, name, body.key_type)))


def _request(name: str, body: DeploymentIn, all_traffic: bool) -> DeploymentRequest:
    spec = validate_spec(body.spec, OnlineDeploymentSpec, body.source)
    if spec.endpoint_name != name:
        raise InvalidSpec(
            f"{body.source}: endpoint_name is '{spec.endpoint_name}'"
            f" but the request is for endpoint '{name}'",
            field="endpoint_name",
        )
    env = body.environment
    return DeploymentRequest(
        spec=spec,
        source=body.source,
        raw=body.spec,
        model_snapshot=body.model_snapshot,
        code_snapshot=body.code_snapshot,
        environment=None
        if env is None
        else InlineEnvironmentValues(env.python, tuple(env.requirements), env.image),
        all_traffic=all_traffic,
    )


@router.post(
    "/{name}/deployments",
    response_model=DeploymentOut,
    status_code=201,
    summary="Create a deployment; it is Creating until its workers are ready",
)
def create_deployment(name: str, body: DeploymentIn, ctx: Ctx, svc: Svc) -> object:
    deployment = svc.deployments.create(ctx, _request(name, body, body.all_traffic))
    return json_response(deployment_out(deployment, with_spec=True, ctx=ctx), 201)


@router.get("/{name}/deployments", response_model=DeploymentPage, summary="List an endpoint's deployments")
def list_deployments(name: str, ctx: Ctx, svc: Svc) -> object:
    found = svc.deployments.list(ctx, name)
    return json_response(DeploymentPage(deployments=[deployment_out(d) for d in found]))


@router.get("/{name}/deployments/{deployment}", response_model=DeploymentOut, summary="Get a deployment")
def get_deployment(name: str, deployment: str, ctx: Ctx, svc: Svc) -> object:
    return json_response(deployment_out(svc.deployments.get(ctx, name, deployment), with_spec=True, ctx=ctx))


@router.put(
    "/{name}/deployments/{deployment}",
    response_model=DeploymentOut,
    summary="Update a deployment: a new revision, rolled out without a gap",
)
def update_deployment(name: str, deployment: str, body: DeploymentIn, ctx: Ctx, svc: Svc) -> object:
    request = _request(name, body, body.all_traffic)
    if request.spec.name != deployment:
        raise InvalidSpec(
            f"{body.source}: name is '{request.spec.name}' but the request is for deployment '{deployment}'",
            field="name",
        )
    return json_response(deployment_out(svc.deployments.update(ctx, request), with_spec=True, ctx=ctx))


@router.delete(
    "/{name}/deployments/{deployment}",
    status_code=204,
    summary="Delete a deployment (409 while it receives traffic)",
)
async def delete_deployment(name: str, deployment: str, ctx: Ctx, svc: Svc) -> Response:
    await to_thread.run_sync(svc.deployments.delete, ctx, name, deployment)
    return Response(status_code=204)


@router.get(
    "/{name}/deployments/{deployment}/logs",
    summary="The deployment's log: preparation, then its workers' output, restarts and why",
    response_class=Response,
    responses=TEXT_ANSWER,
)
def deployment_logs(
    name: str,
    deployment: str,
    ctx: Ctx,
    svc: Svc,
    lines: Annotated[int, Query(ge=1, le=100_000, description="How many of the last lines.")] = 100,
) -> Response:
    text = svc.deployments.logs(ctx, name, deployment, lines)
    return Response(text, media_type="text/plain; charset=utf-8", headers=_NO_STORE)


@router.get(
    "/{name}/deployments/{deployment}/progress",
    response_model=DeploymentProgressOut,
    summary="Follow a deployment coming up: its state and the preparation log's lines since an offset",
)
def deployment_progress(
    name: str,
    deployment: str,
    ctx: Ctx,
    svc: Svc,
    offset: Annotated[
        int,
        Query(
            ge=-1, le=2**62, description="Byte offset a previous answer gave; 0 from the start, -1 the end."
        ),
    ] = 0,
) -> object:
    found = svc.deployments.progress(ctx, name, deployment, offset)
    d = found.deployment
    out = DeploymentProgressOut(
        provisioning_state=str(d.state),
        reason=d.reason,
        revision=d.revision,
        text=found.text,
        offset=found.offset,
    )
    answer = json_response(out)
    answer.headers.update(_NO_STORE)
    return answer


@router.get(
    "/{name}/deployments/{deployment}/system",
    response_model=DeploymentSystem,
    summary="A deployment's requests, errors, latency, CPU and memory per minute, over every server",
)
def deployment_system(
    name: str,
    deployment: str,
    ctx: Ctx,
    svc: Svc,
    minutes: Annotated[
        int,
        Query(ge=1, le=MAX_MINUTES, description="How many of the last minutes (the current one included)."),
    ] = 60,
) -> object:
    rows = svc.get("deployment_system", DeploymentSystemService).minutes(ctx, name, deployment, minutes)
    answer = json_response(DeploymentSystem(minutes=[SystemMinute(**row) for row in rows]))
    answer.headers.update(_NO_STORE)
    return answer
