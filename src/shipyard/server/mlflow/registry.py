"""MLflow's model registry: ``/api/2.0/mlflow/registered-models/*`` and ``model-versions/*``.

The same registry as ``/api/v1/models``: a version the ``mlflow`` client registers shows in
``shipyard model show``, and every change lands in the model's history.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import Field

from shipyard.domain.registry import ModelVersion, RegisteredModel
from shipyard.errors import InvalidArgument, NotFound
from shipyard.server.deps import Ctx, Svc
from shipyard.server.mlflow._route import MlflowApiError, MlflowIn, MlflowRoute, ok, payload

__all__ = ["model_version", "registered_model", "router"]

router = APIRouter(route_class=MlflowRoute)


def _tags(mapping: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in mapping.items()]


def model_version(found: ModelVersion) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": found.name,
        "version": str(found.version),
        "creation_timestamp": found.created_at,
        "last_updated_timestamp": found.updated_at,
        "user_id": found.created_by,
        "current_stage": found.stage,
        "description": found.description,
        "source": found.source,
        "status": found.status,
        "tags": _tags(found.tags),
        "aliases": found.aliases,
    }
    if found.run_id:
        out["run_id"] = found.run_id
    if found.logged_model_id:
        out["model_id"] = found.logged_model_id
    return out


def registered_model(found: RegisteredModel, latest: list[ModelVersion] | None = None) -> dict[str, Any]:
    return {
        "name": found.name,
        "creation_timestamp": found.created_at,
        "last_updated_timestamp": found.updated_at,
        "user_id": found.created_by,
        "description": found.description,
        "tags": _tags(found.tags),
        "aliases": [{"alias": a, "version": str(v)} for a, v in sorted(found.aliases.items())],
        "latest_versions": [model_version(v) for v in latest or []],
    }


def _number(version: str | int) -> int:
    text = str(version)
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        raise InvalidArgument(f"version must be a whole number; got {text[:40]!r}")
    return int(text)


class _Tag(MlflowIn):
    key: str
    value: str


class NameIn(MlflowIn):
    name: str


class CreateModelIn(NameIn):
    tags: list[_Tag] = Field(default_factory=list)
    description: str | None = None


class RenameIn(NameIn):
    new_name: str


class UpdateModelIn(NameIn):
    description: str | None = None


class SearchIn(MlflowIn):
    filter: str | None = None
    max_results: int | None = None
    order_by: list[str] = Field(default_factory=list)
    page_token: str | None = None


class LatestIn(NameIn):
    stages: list[str] = Field(default_factory=list)


class ModelTagIn(NameIn):
    key: str
    value: str


class ModelTagKeyIn(NameIn):
    key: str


class AliasIn(NameIn):
    alias: str
    version: str | int


class AliasNameIn(NameIn):
    alias: str


class CreateVersionIn(NameIn):
    source: str
    run_id: str | None = None
    tags: list[_Tag] = Field(default_factory=list)
    run_link: str | None = None
    description: str | None = None
    model_id: str | None = None


class VersionIn(NameIn):
    version: str | int


class UpdateVersionIn(VersionIn):
    description: str | None = None


class StageIn(VersionIn):
    stage: str
    archive_existing_versions: bool = False


class VersionTagIn(VersionIn):
    key: str
    value: str


class VersionTagKeyIn(VersionIn):
    key: str


# -- registered models --------------------------------------------------------------


@router.post("/registered-models/create")
def create_model(ctx: Ctx, svc: Svc, body: Annotated[CreateModelIn, payload(CreateModelIn)]) -> Response:
    found = svc.registry.create_model(
        ctx, body.name, body.description or "", {t.key: t.value for t in body.tags}
    )
    return ok({"registered_model": registered_model(found)})


@router.get("/registered-models/get")
def get_model(ctx: Ctx, svc: Svc, body: Annotated[NameIn, payload(NameIn)]) -> Response:
    found = svc.registry.get_model(ctx, body.name)
    return ok({"registered_model": registered_model(found, svc.registry.latest_versions(ctx, body.name))})


@router.api_route("/registered-models/search", methods=["GET", "POST"])
def search_models(ctx: Ctx, svc: Svc, body: Annotated[SearchIn, payload(SearchIn)]) -> Response:
    found, token = svc.registry.search_models(
        ctx, body.filter, body.order_by, body.max_results or 100, body.page_token
    )
    latest = svc.registry.latest_versions_of(ctx, [m.name for m in found])
    out: dict[str, Any] = {"registered_models": [registered_model(m, latest[m.name]) for m in found]}
    if token:
        out["next_page_token"] = token
    return ok(out)


@router.post("/registered-models/rename")
def rename_model(ctx: Ctx, svc: Svc, body: Annotated[RenameIn, payload(RenameIn)]) -> Response:
    return ok(
        {"registered_model": registered_model(svc.registry.rename_model(ctx, body.name, body.new_name))}
    )


@router.patch("/registered-models/update")
def update_model(ctx: Ctx, svc: Svc, body: Annotated[UpdateModelIn, payload(UpdateModelIn)]) -> Response:
    found = svc.registry.update_model(ctx, body.name, description=body.description)
    return ok({"registered_model": registered_model(found)})


@router.delete("/registered-models/delete")
def delete_model(ctx: Ctx, svc: Svc, body: Annotated[NameIn, payload(NameIn)]) -> Response:
    svc.registry.delete_model(ctx, body.name)
    return ok()


@router.post("/registered-models/set-tag")
def set_model_tag(ctx: Ctx, svc: Svc, body: Annotated[ModelTagIn, payload(ModelTagIn)]) -> Response:
    svc.registry.update_model(ctx, body.name, tags={body.key: body.value})
    return ok()


@contextmanager
def _absent_is_fine(detail: str) -> Iterator[None]:
    """MLflow's registry deletes a tag or alias that is not there without a word; an unknown
    model or version is still an error."""
    try:
        yield
    except NotFound as exc:
        if detail not in exc.details:
            raise


@router.delete("/registered-models/delete-tag")
def delete_model_tag(ctx: Ctx, svc: Svc, body: Annotated[ModelTagKeyIn, payload(ModelTagKeyIn)]) -> Response:
    with _absent_is_fine("key"):
        svc.registry.delete_model_tag(ctx, body.name, body.key)
    return ok()


@router.api_route("/registered-models/get-latest-versions", methods=["GET", "POST"])
def latest_versions(ctx: Ctx, svc: Svc, body: Annotated[LatestIn, payload(LatestIn)]) -> Response:
    found = svc.registry.latest_versions(ctx, body.name, body.stages)
    return ok({"model_versions": [model_version(v) for v in found]})


@router.post("/registered-models/alias")
def set_alias(ctx: Ctx, svc: Svc, body: Annotated[AliasIn, payload(AliasIn)]) -> Response:
    svc.registry.set_alias(ctx, body.name, body.alias, _number(body.version))
    return ok()


@router.delete("/registered-models/alias")
def delete_alias(ctx: Ctx, svc: Svc, body: Annotated[AliasNameIn, payload(AliasNameIn)]) -> Response:
    with _absent_is_fine("alias"):
        svc.registry.delete_alias(ctx, body.name, body.alias)
    return ok()


@router.get("/registered-models/alias")
def get_by_alias(ctx: Ctx, svc: Svc, body: Annotated[AliasNameIn, payload(AliasNameIn)]) -> Response:
    model = svc.registry.get_model(ctx, body.name)
    if body.alias not in model.aliases:  # MLflow: a 400, not a 404
        raise MlflowApiError("INVALID_PARAMETER_VALUE", f"Registered model alias {body.alias} not found.")
    found = svc.registry.get_version(ctx, body.name, model.aliases[body.alias])
    return ok({"model_version": model_version(found)})


# -- model versions -----------------------------------------------------------------


@router.post("/model-versions/create")
def create_version(
    ctx: Ctx, svc: Svc, body: Annotated[CreateVersionIn, payload(CreateVersionIn)]
) -> Response:
    found = svc.registry.create_version(
        ctx,
        body.name,
        body.source,
        run_id=body.run_id or None,
        logged_model_id=body.model_id or None,
        description=body.description or "",
        tags={t.key: t.value for t in body.tags},
    )
    return ok({"model_version": model_version(found)})


@router.get("/model-versions/get")
def get_version(ctx: Ctx, svc: Svc, body: Annotated[VersionIn, payload(VersionIn)]) -> Response:
    found = svc.registry.get_version(ctx, body.name, _number(body.version))
    return ok({"model_version": model_version(found)})


@router.api_route("/model-versions/search", methods=["GET", "POST"])
def search_versions(ctx: Ctx, svc: Svc, body: Annotated[SearchIn, payload(SearchIn)]) -> Response:
    found, token = svc.registry.search_versions(
        ctx, body.filter, body.order_by, body.max_results or 10_000, body.page_token
    )
    out: dict[str, Any] = {"model_versions": [model_version(v) for v in found]}
    if token:
        out["next_page_token"] = token
    return ok(out)


@router.patch("/model-versions/update")
def update_version(
    ctx: Ctx, svc: Svc, body: Annotated[UpdateVersionIn, payload(UpdateVersionIn)]
) -> Response:
    found = svc.registry.update_version(ctx, body.name, _number(body.version), description=body.description)
    return ok({"model_version": model_version(found)})


@router.delete("/model-versions/delete")
def delete_version(ctx: Ctx, svc: Svc, body: Annotated[VersionIn, payload(VersionIn)]) -> Response:
    svc.registry.delete_version(ctx, body.name, _number(body.version))
    return ok()


@router.post("/model-versions/transition-stage")
def transition_stage(ctx: Ctx, svc: Svc, body: Annotated[StageIn, payload(StageIn)]) -> Response:
    found = svc.registry.transition_stage(
        ctx, body.name, _number(body.version), body.stage, archive_existing=body.archive_existing_versions
    )
    return ok({"model_version": model_version(found)})


@router.get("/model-versions/get-download-uri")
def download_uri(ctx: Ctx, svc: Svc, body: Annotated[VersionIn, payload(VersionIn)]) -> Response:
    return ok({"artifact_uri": svc.registry.download_uri(ctx, body.name, _number(body.version))})


@router.post("/model-versions/set-tag")
def set_version_tag(ctx: Ctx, svc: Svc, body: Annotated[VersionTagIn, payload(VersionTagIn)]) -> Response:
    svc.registry.update_version(ctx, body.name, _number(body.version), tags={body.key: body.value})
    return ok()


@router.delete("/model-versions/delete-tag")
def delete_version_tag(
    ctx: Ctx, svc: Svc, body: Annotated[VersionTagKeyIn, payload(VersionTagKeyIn)]
) -> Response:
    with _absent_is_fine("key"):
        svc.registry.delete_version_tag(ctx, body.name, _number(body.version), body.key)
    return ok()
