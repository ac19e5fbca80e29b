"""/api/v1/environments: immutable, versioned job environments."""

from __future__ import annotations

from fastapi import APIRouter

from shipyard.domain.jobs import Environment
from shipyard.server.deps import Ctx, Svc, json_response
from shipyard.server.job_schemas import EnvironmentIn, EnvironmentOut, EnvironmentPage

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/environments", tags=["environments"])


def _out(env: Environment) -> EnvironmentOut:
    return EnvironmentOut.model_validate(env)


@router.post("", response_model=EnvironmentOut, status_code=201, summary="Create an environment version")
def create(body: EnvironmentIn, ctx: Ctx, svc: Svc) -> object:
    env = svc.environments.create(
        ctx,
        body.name,
        body.version,
        python=body.python,
        requirements=tuple(body.requirements),
        image=body.image,
        conda_file=body.conda_file,
        description=body.description,
        tags=body.tags,
    )
    return json_response(_out(env), 201)


@router.get("", response_model=EnvironmentPage, summary="The latest version of every environment")
def list_(ctx: Ctx, svc: Svc) -> object:
    return json_response(EnvironmentPage(environments=[_out(e) for e in svc.environments.list(ctx)]))


@router.get("/{name}", response_model=EnvironmentOut, summary="An environment's latest version")
def latest(name: str, ctx: Ctx, svc: Svc) -> object:
    return json_response(_out(svc.environments.get(ctx, name)))


@router.get("/{name}/versions", response_model=EnvironmentPage, summary="Every version of an environment")
def versions(name: str, ctx: Ctx, svc: Svc) -> object:
    found = svc.environments.list(ctx, name)
    if not found:
        svc.environments.get(ctx, name)  # NotFound with the usual message
    return json_response(EnvironmentPage(environments=[_out(e) for e in found]))


@router.get("/{name}/versions/{version}", response_model=EnvironmentOut, summary="One environment version")
def get(name: str, version: str, ctx: Ctx, svc: Svc) -> object:
    return json_response(_out(svc.environments.get(ctx, name, version)))
