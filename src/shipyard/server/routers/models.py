"""/api/v1/models: the model registry."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from shipyard.server.deps import Ctx, Svc, json_response
from shipyard.server.schemas import (
    AliasIn,
    ModelEventOut,
    ModelHistory,
    ModelIn,
    ModelOut,
    ModelPage,
    ModelPatch,
    VersionIn,
    VersionOut,
    VersionPage,
    VersionPatch,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/models", tags=["models"])


@router.post("", response_model=ModelOut, status_code=201, summary="Create a registered model")
def create(body: ModelIn, ctx: Ctx, svc: Svc) -> object:
    found = svc.registry.create_model(ctx, body.name, body.description, body.tags)
    return json_response(ModelOut.model_validate(found), 201)


@router.get("", response_model=ModelPage, summary="List registered models")
def list_(
    ctx: Ctx,
    svc: Svc,
    name_like: str | None = Query(None, description="SQL LIKE pattern on the name, case-insensitive"),
    max_results: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> object:
    found = svc.registry.list_models(ctx, name_like, max_results, offset)
    return json_response(ModelPage(models=[ModelOut.model_validate(m) for m in found]))


@router.get("/{name}", response_model=ModelOut, summary="Get a registered model")
def get(name: str, ctx: Ctx, svc: Svc) -> object:
    return json_response(ModelOut.model_validate(svc.registry.get_model(ctx, name)))


@router.patch("/{name}", response_model=ModelOut, summary="Set a model's description or tags")
def patch(name: str, body: ModelPatch, ctx: Ctx, svc: Svc) -> object:
    found = svc.registry.update_model(ctx, name, description=body.description, tags=body.tags)
    return json_response(ModelOut.model_validate(found))


@router.delete("/{name}/tags/{key:path}", status_code=204, summary="Delete a model tag")
def delete_tag(name: str, key: str, ctx: Ctx, svc: Svc) -> Response:
    svc.registry.delete_model_tag(ctx, name, key)
    return Response(status_code=204)


@router.post(
    "/{name}/versions",
    response_model=VersionOut,
    status_code=201,
    summary="Register a version from a run artifact",
)
def register(name: str, body: VersionIn, ctx: Ctx, svc: Svc) -> object:
    found = svc.registry.register(
        ctx, name, body.run_id, body.artifact_path, description=body.description, tags=body.tags
    )
    return json_response(VersionOut.model_validate(found), 201)


@router.get("/{name}/versions", response_model=VersionPage, summary="List a model's versions")
def versions(name: str, ctx: Ctx, svc: Svc) -> object:
    found = svc.registry.list_versions(ctx, name)
    return json_response(VersionPage(versions=[VersionOut.model_validate(v) for v in found]))


@router.get(
    "/{name}/versions/{version}",
    response_model=VersionOut,
    summary="Get a version by number, 'latest' or alias",
)
def version(name: str, version: str, ctx: Ctx, svc: Svc) -> object:
    return json_response(VersionOut.model_validate(svc.registry.get_version(ctx, name, version)))


@router.patch(
    "/{name}/versions/{version}", response_model=VersionOut, summary="Set a version's description or tags"
)
def patch_version(name: str, version: int, body: VersionPatch, ctx: Ctx, svc: Svc) -> object:
    found = svc.registry.update_version(ctx, name, version, description=body.description, tags=body.tags)
    return json_response(VersionOut.model_validate(found))


@router.delete("/{name}/versions/{version}/tags/{key:path}", status_code=204, summary="Delete a version tag")
def delete_version_tag(name: str, version: int, key: str, ctx: Ctx, svc: Svc) -> Response:
    svc.registry.delete_version_tag(ctx, name, version, key)
    return Response(status_code=204)


@router.put("/{name}/aliases/{alias}", response_model=ModelOut, summary="Point an alias at a version")
def set_alias(name: str, alias: str, body: AliasIn, ctx: Ctx, svc: Svc) -> object:
    return json_response(ModelOut.model_validate(svc.registry.set_alias(ctx, name, alias, body.version)))


@router.delete("/{name}/aliases/{alias}", status_code=204, summary="Remove an alias")
def delete_alias(name: str, alias: str, ctx: Ctx, svc: Svc) -> Response:
    svc.registry.delete_alias(ctx, name, alias)
    return Response(status_code=204)


@router.get(
    "/{name}/history", response_model=ModelHistory, summary="Every change to the model: who, what, when"
)
def history(
    name: str,
    ctx: Ctx,
    svc: Svc,
    max_results: int = Query(1000, ge=1, le=10_000),
    offset: int = Query(0, ge=0),
) -> object:
    events = svc.registry.history(ctx, name, max_results, offset)
    return json_response(ModelHistory(events=[ModelEventOut.model_validate(e) for e in events]))
