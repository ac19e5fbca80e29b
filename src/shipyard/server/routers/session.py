"""/api/v1/session: the studio signs in with a token and holds a cookie (``server/session.py``)."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Body, Request, Response
from pydantic import Field

from shipyard.domain.context import DEFAULT_WORKSPACE, RequestContext
from shipyard.errors import PermissionDenied, Unauthenticated
from shipyard.server.deps import Ctx, Svc
from shipyard.server.schemas import Dto, ErrorOut
from shipyard.server.session import CSRF_COOKIE, SESSION_COOKIE, SESSION_TOKEN_PREFIX, csrf_of

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/session", tags=["identity"])


class SessionIn(Dto):
    token: str = Field(min_length=1, max_length=512, description="A Shipyard token (shy_…) of a user.")


class SessionOut(Dto):
    user: str = Field(description="Who is signed in.")
    expires_at: int | None = Field(description="When the session ends (epoch ms); null: never (no auth).")
    csrf: str | None = Field(description=f"The value mutations send as the {'X-Shipyard-CSRF'} header.")


@router.post(
    "",
    response_model=SessionOut,
    summary="Sign the studio in: a token in, a session cookie out",
    # Public (it takes the token in its body), yet it refuses a token that does not sign in.
    responses={
        401: {
            "model": ErrorOut,
            "description": "`UNAUTHENTICATED`. The token is unknown, expired or revoked.",
        },
    },
)
def sign_in(body: Annotated[SessionIn, Body()], request: Request, response: Response, svc: Svc) -> SessionOut:
    settings = request.app.state.settings
    authenticator = request.app.state.authenticator
    if authenticator is None:  # --no-auth: every caller is the local user, no cookie needed
        return SessionOut(user=request.scope["state"]["principal"].name, expires_at=None, csrf=None)
    try:
        principal = authenticator.bearer(body.token.strip())
    except Unauthenticated:
        raise Unauthenticated(
            "that token is not valid (revoked, expired or mistyped); check it and try again"
        ) from None
    if principal.kind != "user":
        raise PermissionDenied("a job's token cannot sign in to the studio; use a token of your own")
    ttl_s = int(settings.studio_session_hours * 3600)
    ctx = RequestContext(principal=principal, workspace=DEFAULT_WORKSPACE)
    made = svc.identity.create_token(ctx, SESSION_TOKEN_PREFIX + secrets.token_hex(6), ttl_s=ttl_s)
    secure = request.url.scheme == "https"
    response.set_cookie(
        SESSION_COOKIE, made.secret, max_age=ttl_s, path="/", httponly=True, samesite="strict", secure=secure
    )
    csrf = csrf_of(made.secret)
    response.set_cookie(CSRF_COOKIE, csrf, max_age=ttl_s, path="/", samesite="strict", secure=secure)
    response.headers["Cache-Control"] = "no-store"
    return SessionOut(user=principal.name, expires_at=made.token.expires_at, csrf=csrf)


@router.delete("", status_code=204, summary="Sign the studio out: its session token is revoked")
def sign_out(request: Request, response: Response, ctx: Ctx, svc: Svc) -> None:
    name = ctx.principal.token_name
    if request.scope["state"].get("session") and name and name.startswith(SESSION_TOKEN_PREFIX):
        svc.identity.revoke_token(ctx, name)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
