"""DTOs of users, tokens, roles, assignments, secrets and the audit log (``/api/v1``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from shipyard.server.schemas import Dto

__all__ = [
    "AssignmentIn",
    "AssignmentOut",
    "AssignmentPage",
    "AuditEntryOut",
    "AuditPage",
    "AuditVerifyOut",
    "NewTokenOut",
    "RoleIn",
    "RoleOut",
    "RolePage",
    "SecretIn",
    "SecretOut",
    "SecretPage",
    "TokenIn",
    "TokenOut",
    "TokenPage",
    "UserIn",
    "UserOut",
    "UserPage",
    "WhoAmIOut",
    "WorkspacePage",
]


class UserIn(Dto):
    name: str = Field(description="1-63 lowercase letters, digits, '.', '_' or '-'.")
    email: str | None = None


class UserOut(Dto):
    name: str
    email: str | None
    disabled: bool
    created_at: int
    created_by: str


class UserPage(Dto):
    users: list[UserOut]


class TokenIn(Dto):
    name: str = Field(description="A label to revoke it by, unique per user.")
    user: str | None = Field(
        default=None, description="Whose token; default: the caller's (another's needs users:write)."
    )
    expires_in_seconds: int | None = Field(
        default=None, ge=60, le=10 * 365 * 86400, description="Default: never."
    )


class TokenOut(Dto):
    name: str
    user: str
    kind: str
    expires_at: int | None
    created_at: int
    created_by: str


class NewTokenOut(TokenOut):
    token: str = Field(description="The token itself: shown this once, never stored by the server.")


class TokenPage(Dto):
    tokens: list[TokenOut]


class RoleIn(Dto):
    name: str
    description: str = ""
    permissions: list[str] = Field(
        description="resource:action, resource:* or *, e.g. ['jobs:create', 'models:read']."
    )


class RoleOut(Dto):
    name: str
    description: str
    permissions: list[str]
    builtin: bool


class RolePage(Dto):
    roles: list[RoleOut]


class AssignmentIn(Dto):
    user: str
    role: str
    workspace: str = Field(default="*", description="A workspace, or '*' for every workspace.")


class AssignmentOut(Dto):
    user: str
    role: str
    workspace: str
    created_at: int
    created_by: str


class AssignmentPage(Dto):
    assignments: list[AssignmentOut]


class WhoAmIOut(Dto):
    user: str
    kind: str = Field(description="user, job (a running job's token) or local (a --no-auth server).")
    token_name: str | None
    email: str | None
    workspace: str = Field(description="The workspace this request was in.")
    only_workspace: str | None = Field(description="Set when the token acts in one workspace only (a job's).")
    auth: bool = Field(description="False on a --no-auth server.")
    assignments: list[AssignmentOut]
    permissions: list[str] = Field(description="What the caller may do in this request's workspace.")


class WorkspacePage(Dto):
    workspaces: list[str]


class SecretIn(Dto):
    value: str = Field(description="The secret; never returned by any API.")


class SecretOut(Dto):
    name: str
    workspace: str
    created_at: int
    created_by: str
    updated_at: int
    updated_by: str


class SecretPage(Dto):
    secrets: list[SecretOut]


class AuditEntryOut(Dto):
    seq: int
    ts: int
    actor: str
    action: str
    target: str
    workspace: str
    status: int
    outcome: str
    detail: dict[str, Any]
    prev_hash: str = Field(description="The previous entry's hash: the chain can be checked by anyone.")
    hash: str


class AuditPage(Dto):
    entries: list[AuditEntryOut]
    next_before_seq: int | None = Field(description="Pass as before_seq for older entries.")


class AuditVerifyOut(Dto):
    ok: bool
    entries: int
    head_seq: int
    head_hash: str = Field(description="Keep it somewhere else: a later verify can be compared with it.")
    first_bad_seq: int | None = None
    problem: str | None = None
