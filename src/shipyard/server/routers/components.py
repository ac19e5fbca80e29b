"""/api/v1/components: command components (immutable versions), used as pipeline steps."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from shipyard.api import components as api
from shipyard.domain.components import Component
from shipyard.server.deps import Ctx, Svc, json_response
from shipyard.server.job_schemas import InlineEnvironmentIn
from shipyard.server.schemas import Dto
from shipyard.services.components import LATEST, ComponentService
from shipyard.services.job_specs import InlineEnvironmentValues

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/components", tags=["components"])


class ComponentIn(Dto):
    spec: dict[str, Any] = Field(description="The component file's mapping (Azure ML command component).")
    code_snapshot: str | None = Field(None, description="Digest of its uploaded code folder.")
    environment: InlineEnvironmentIn | None = Field(
        None, description="Its inline environment, read by the client."
    )
    source: str = Field("component.yml", description="Where the spec came from, for messages.")


def _out(component: Component) -> api.Component:
    spec = component.spec
    return api.Component(
        name=component.name,
        version=component.version,
        description=component.description,
        tags=component.tags,
        is_deterministic=component.is_deterministic,
        inputs=dict(spec.get("inputs") or {}),
        outputs=dict(spec.get("outputs") or {}),
        command=str(spec.get("command") or ""),
        code_digest=component.code_digest,
        environment=component.environment if component.environment is not None else spec.get("environment"),
        spec=spec,
        created_at=component.created_at,
        created_by=component.created_by,
    )


@router.post("", response_model=api.Component, status_code=201, summary="Register a component version")
def create(body: ComponentIn, ctx: Ctx, svc: Svc) -> object:
    env = body.environment
    made = svc.get("components", ComponentService).create(
        ctx,
        body.spec,
        source=body.source,
        code_snapshot=body.code_snapshot,
        environment=None
        if env is None
        else InlineEnvironmentValues(
            python=env.python, requirements=tuple(env.requirements), image=env.image
        ),
    )
    return json_response(_out(made), 201)


@router.get("", response_model=api.ComponentPage, summary="The latest version of each component")
def list_(ctx: Ctx, svc: Svc) -> object:
    found = svc.get("components", ComponentService).list(ctx)
    return json_response(api.ComponentPage(components=[_out(c) for c in found]))


@router.get("/{name}/versions", response_model=api.ComponentPage, summary="Every version of a component")
def versions(name: str, ctx: Ctx, svc: Svc) -> object:
    found = svc.get("components", ComponentService).versions(ctx, name)
    return json_response(api.ComponentPage(components=[_out(c) for c in found]))


@router.get(
    "/{name}/versions/{version}",
    response_model=api.Component,
    summary=f"One version of a component; '{LATEST}' for the one created last",
)
def get(name: str, version: str, ctx: Ctx, svc: Svc) -> object:
    return json_response(_out(svc.get("components", ComponentService).get(ctx, name, version)))
