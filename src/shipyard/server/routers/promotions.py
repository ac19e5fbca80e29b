"""/api/v1/models/{name}/promotions (request, list, show, approve, reject),
/api/v1/promotions (a workspace's promotions of every model) and /api/v1/model-protections."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import Field

from shipyard.api import promotions as api
from shipyard.domain.promotions import ANY, Promotion, Protection
from shipyard.server.deps import Ctx, Svc, json_response
from shipyard.server.schemas import Dto
from shipyard.services.promotions import PromotionService

__all__ = ["router"]

router = APIRouter(tags=["promotions"])

_MODEL = "/api/v1/models/{name}/promotions"
PromotionId = Annotated[int, Path(ge=1, le=2**62, description="The promotion's id.")]
StateQuery = Annotated[
    str | None, Query(description="Only promotions in this state: pending, applied, rejected.")
]
LimitQuery = Annotated[int, Query(ge=1, le=1000, description="At most this many, newest first.")]


class PromotionIn(Dto):
    version: int | str = Field(description="The version: a number, 'latest' or an alias.")
    alias: str = Field(description="The alias to point at it, e.g. champion.")
    target_workspace: str | None = Field(
        None,
        description="Copy the version (files, tags, lineage) into the model of the same name in this"
        " workspace and move the alias there; needs models:write in it.",
    )


class DecisionIn(Dto):
    comment: str = Field("", description="Why (kept in the model's history).")


class ProtectionIn(Dto):
    model: str = Field(ANY, description="A model name, or * for every model of the workspace.")
    alias: str = Field(ANY, description="An alias, or * for every alias.")
    approvals: int = Field(1, description="Approvals by principals other than the requester (1-10).")


def _out(p: Promotion) -> api.Promotion:
    return api.Promotion(
        id=p.id,
        workspace=p.workspace,
        name=p.name,
        version=p.version,
        alias=p.alias,
        state=p.state,
        required_approvals=p.required_approvals,
        requested_by=p.requested_by,
        requested_at=p.requested_at,
        decided_at=p.decided_at,
        source=p.source,
        previous_version=p.previous_version,
        decisions=[api.Decision(d.principal, d.decision, d.comment, d.at) for d in p.decisions],
    )


def _protection(p: Protection) -> api.Protection:
    return api.Protection(p.workspace, p.model, p.alias, p.approvals, p.created_at, p.created_by)


def _svc(svc: Svc) -> PromotionService:
    return svc.get("promotions", PromotionService)


@router.post(
    _MODEL,
    response_model=api.Promotion,
    status_code=201,
    summary="Request a promotion: applied at once when the alias is unprotected, else pending",
)
def request(name: str, body: PromotionIn, ctx: Ctx, svc: Svc) -> object:
    made = _svc(svc).request(ctx, name, body.version, body.alias, body.target_workspace)
    return json_response(_out(made), 201)


@router.get(_MODEL, response_model=api.PromotionPage, summary="A model's promotions, newest first")
def list_for_model(
    name: str, ctx: Ctx, svc: Svc, state: StateQuery = None, limit: LimitQuery = 100
) -> object:
    found = _svc(svc).list(ctx, name, state, limit)
    return json_response(api.PromotionPage(promotions=[_out(p) for p in found]))


@router.get(f"{_MODEL}/{{promotion_id}}", response_model=api.Promotion, summary="A promotion")
def show(name: str, promotion_id: PromotionId, ctx: Ctx, svc: Svc) -> object:
    return json_response(_out(_svc(svc).get(ctx, name, promotion_id)))


@router.post(
    f"{_MODEL}/{{promotion_id}}/approve",
    response_model=api.Promotion,
    summary="Approve a pending promotion (not one's own); the last approval needed applies it",
)
def approve(name: str, promotion_id: PromotionId, body: DecisionIn, ctx: Ctx, svc: Svc) -> object:
    return json_response(_out(_svc(svc).approve(ctx, name, promotion_id, body.comment)))


@router.post(
    f"{_MODEL}/{{promotion_id}}/reject",
    response_model=api.Promotion,
    summary="Reject a pending promotion (not one's own)",
)
def reject(name: str, promotion_id: PromotionId, body: DecisionIn, ctx: Ctx, svc: Svc) -> object:
    return json_response(_out(_svc(svc).reject(ctx, name, promotion_id, body.comment)))


@router.get("/api/v1/promotions", response_model=api.PromotionPage, summary="The workspace's promotions")
def list_all(ctx: Ctx, svc: Svc, state: StateQuery = None, limit: LimitQuery = 100) -> object:
    found = _svc(svc).list(ctx, None, state, limit)
    return json_response(api.PromotionPage(promotions=[_out(p) for p in found]))


@router.get("/api/v1/promotions/{promotion_id}", response_model=api.Promotion, summary="A promotion, by id")
def find(promotion_id: PromotionId, ctx: Ctx, svc: Svc) -> object:
    return json_response(_out(_svc(svc).find(ctx, promotion_id)))


@router.get(
    "/api/v1/model-protections",
    response_model=api.ProtectionPage,
    summary="The workspace's alias protections",
)
def protections(ctx: Ctx, svc: Svc) -> object:
    found = _svc(svc).protections(ctx)
    return json_response(api.ProtectionPage(protections=[_protection(p) for p in found]))


@router.post(
    "/api/v1/model-protections",
    response_model=api.Protection,
    status_code=201,
    summary="Protect an alias (or every alias, of one model or every model): it moves only when approved",
)
def protect(body: ProtectionIn, ctx: Ctx, svc: Svc) -> object:
    made = _svc(svc).protect(ctx, body.model, body.alias, body.approvals)
    return json_response(_protection(made), 201)


@router.delete("/api/v1/model-protections", status_code=204, summary="Remove a protection")
def unprotect(
    ctx: Ctx,
    svc: Svc,
    model: Annotated[str, Query(description="The protection's model, or *.")] = ANY,
    alias: Annotated[str, Query(description="The protection's alias, or *.")] = ANY,
) -> Response:
    _svc(svc).unprotect(ctx, model, alias)
    return Response(status_code=204)
