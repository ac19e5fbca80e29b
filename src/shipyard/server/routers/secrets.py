"""/api/v1/secrets: names and history only; no answer ever carries a value."""

from __future__ import annotations

from fastapi import APIRouter, Response

from shipyard.domain.identity import SecretInfo
from shipyard.server.access_schemas import SecretIn, SecretOut, SecretPage
from shipyard.server.deps import Ctx, Svc, json_response

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/secrets", tags=["secrets"])


def _out(info: SecretInfo) -> SecretOut:
    return SecretOut(
        name=info.name,
        workspace=info.workspace,
        created_at=info.created_at,
        created_by=info.created_by,
        updated_at=info.updated_at,
        updated_by=info.updated_by,
    )


@router.put("/{name}", response_model=SecretOut, summary="Set a secret (created or replaced)")
def put(name: str, body: SecretIn, ctx: Ctx, svc: Svc) -> object:
    info, created = svc.secrets.set(ctx, name, body.value)
    return json_response(_out(info), 201 if created else 200)


@router.get("", response_model=SecretPage, summary="List the workspace's secrets (names only)")
def list_(ctx: Ctx, svc: Svc) -> object:
    return json_response(SecretPage(secrets=[_out(s) for s in svc.secrets.list(ctx)]))


@router.delete("/{name}", status_code=204, summary="Delete a secret")
def delete(name: str, ctx: Ctx, svc: Svc) -> Response:
    svc.secrets.delete(ctx, name)
    return Response(status_code=204)
