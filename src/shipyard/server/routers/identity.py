"""/api/v1: whoami, workspaces, users, tokens, roles and role assignments."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from shipyard.domain.access import ALL_PERMISSIONS, Role
from shipyard.domain.identity import RoleAssignment, Token, User
from shipyard.server.access_schemas import (
    AssignmentIn,
    AssignmentOut,
    AssignmentPage,
    NewTokenOut,
    RoleIn,
    RoleOut,
    RolePage,
    TokenIn,
    TokenOut,
    TokenPage,
    UserIn,
    UserOut,
    UserPage,
    WhoAmIOut,
    WorkspacePage,
)
from shipyard.server.deps import Ctx, Svc, json_response

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["access"])

_NO_STORE = {"Cache-Control": "no-store"}


def _user(u: User) -> UserOut:
    return UserOut(
        name=u.name, email=u.email, disabled=u.disabled, created_at=u.created_at, created_by=u.created_by
    )


def _token(t: Token) -> TokenOut:
    return TokenOut(
        name=t.name,
        user=t.user,
        kind=t.kind,
        expires_at=t.expires_at,
        created_at=t.created_at,
        created_by=t.created_by,
    )


def _role(r: Role) -> RoleOut:
    return RoleOut(
        name=r.name, description=r.description, permissions=sorted(r.permissions), builtin=r.builtin
    )


def _assignment(a: RoleAssignment) -> AssignmentOut:
    return AssignmentOut(
        user=a.user, role=a.role, workspace=a.workspace, created_at=a.created_at, created_by=a.created_by
    )


@router.get("/whoami", response_model=WhoAmIOut, summary="Who the caller is and what it may do here")
def whoami(ctx: Ctx, svc: Svc, request: Request) -> object:
    found = svc.identity.whoami(ctx)
    return json_response(
        WhoAmIOut(
            user=found.user,
            kind=found.kind,
            token_name=found.token_name,
            email=found.email,
            workspace=ctx.workspace,
            only_workspace=found.only_workspace,
            auth=request.app.state.settings.auth,
            assignments=[_assignment(a) for a in found.assignments],
            permissions=sorted(p for p in ALL_PERMISSIONS if ctx.may(p)),
        )
    )


@router.get("/workspaces", response_model=WorkspacePage, summary="The workspaces the caller has a role in")
def workspaces(ctx: Ctx, svc: Svc) -> object:
    return json_response(WorkspacePage(workspaces=svc.tracking.visible_workspaces(ctx)))


# -- users -------------------------------------------------------------------------------


@router.post("/users", response_model=UserOut, status_code=201, summary="Create a user")
def create_user(body: UserIn, ctx: Ctx, svc: Svc) -> object:
    return json_response(_user(svc.identity.create_user(ctx, body.name, body.email)), 201)


@router.get("/users", response_model=UserPage, summary="List users")
def list_users(svc: Svc) -> object:
    return json_response(UserPage(users=[_user(u) for u in svc.identity.list_users()]))


@router.post(
    "/users/{name}/disable", response_model=UserOut, summary="Disable a user (its tokens stop working)"
)
def disable_user(name: str, ctx: Ctx, svc: Svc) -> object:
    return json_response(_user(svc.identity.set_disabled(ctx, name, True)))


@router.post("/users/{name}/enable", response_model=UserOut, summary="Enable a disabled user again")
def enable_user(name: str, ctx: Ctx, svc: Svc) -> object:
    return json_response(_user(svc.identity.set_disabled(ctx, name, False)))


# -- tokens ------------------------------------------------------------------------------


@router.post("/tokens", response_model=NewTokenOut, status_code=201, summary="Create a token (shown once)")
def create_token(body: TokenIn, ctx: Ctx, svc: Svc) -> object:
    made = svc.identity.create_token(ctx, body.name, user=body.user, ttl_s=body.expires_in_seconds)
    out = NewTokenOut(**_token(made.token).model_dump(), token=made.secret)
    response = json_response(out, 201)
    response.headers.update(_NO_STORE)
    return response


@router.get("/tokens", response_model=TokenPage, summary="List tokens (the caller's, or a user's)")
def list_tokens(
    ctx: Ctx, svc: Svc, user: str | None = Query(None, description="Whose; default: the caller's.")
) -> object:
    return json_response(TokenPage(tokens=[_token(t) for t in svc.identity.list_tokens(ctx, user)]))


@router.delete("/tokens/{name}", status_code=204, summary="Revoke a token")
def revoke_token(name: str, ctx: Ctx, svc: Svc, user: str | None = Query(None)) -> None:
    svc.identity.revoke_token(ctx, name, user=user)


# -- roles -------------------------------------------------------------------------------


@router.get("/roles", response_model=RolePage, summary="List roles, built-in and custom")
def list_roles(svc: Svc) -> object:
    return json_response(RolePage(roles=[_role(r) for r in svc.identity.list_roles()]))


@router.get("/roles/{name}", response_model=RoleOut, summary="Get a role with its permissions")
def get_role(name: str, svc: Svc) -> object:
    return json_response(_role(svc.identity.get_role(name)))


@router.post("/roles", response_model=RoleOut, status_code=201, summary="Create a custom role")
def create_role(body: RoleIn, ctx: Ctx, svc: Svc) -> object:
    return json_response(
        _role(svc.identity.create_role(ctx, body.name, body.permissions, body.description)), 201
    )


@router.get("/role-assignments", response_model=AssignmentPage, summary="List role assignments")
def list_assignments(svc: Svc, user: str | None = Query(None)) -> object:
    return json_response(AssignmentPage(assignments=[_assignment(a) for a in svc.identity.assignments(user)]))


@router.post("/role-assignments", response_model=AssignmentOut, status_code=201, summary="Give a user a role")
def assign(body: AssignmentIn, ctx: Ctx, svc: Svc) -> object:
    return json_response(_assignment(svc.identity.assign(ctx, body.user, body.role, body.workspace)), 201)


@router.delete("/role-assignments", status_code=204, summary="Take a role from a user")
def unassign(
    ctx: Ctx,
    svc: Svc,
    user: str = Query(...),
    role: str = Query(...),
    workspace: str = Query("*", description="A workspace, or '*' for a global assignment."),
) -> None:
    svc.identity.unassign(ctx, user, role, workspace)
