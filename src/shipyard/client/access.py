"""Users, tokens, roles, secrets and the audit log over HTTP (``client.users``,
``client.tokens``, ``client.roles``, ``client.secrets``, ``client.audit``, ``client.whoami()``).

Answers come back as the domain's records (:class:`~shipyard.domain.identity.User`,
:class:`~shipyard.domain.identity.Token`, :class:`~shipyard.domain.access.Role`…); the few
shapes only the API has (who am I, a new token, a verification) are dataclasses here.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shipyard.client._paths import q
from shipyard.domain.access import ALL_WORKSPACES, Role
from shipyard.domain.identity import AuditEntry, RoleAssignment, SecretInfo, Token, User

if TYPE_CHECKING:
    from shipyard.client.client import Client

__all__ = [
    "AuditOperations",
    "AuditVerification",
    "NewToken",
    "RoleOperations",
    "SecretOperations",
    "TokenOperations",
    "UserOperations",
    "WhoAmI",
    "whoami",
]

_WORKSPACE_HEADER = "Shipyard-Workspace"
_AUDIT_PAGE = 1000


@dataclass(frozen=True, slots=True)
class WhoAmI:
    """The caller as the server sees it, in the client's workspace."""

    user: str
    kind: str  # user, job (a running job's token) or local (a --no-auth server)
    token_name: str | None
    email: str | None
    workspace: str
    only_workspace: str | None  # set when the token acts in one workspace only (a job's)
    auth: bool  # False on a --no-auth server
    assignments: list[RoleAssignment]
    permissions: list[str]  # what the caller may do in ``workspace``


@dataclass(frozen=True, slots=True)
class NewToken:
    """A token just made: ``secret`` is the token itself, which the server never shows again."""

    token: Token
    secret: str


@dataclass(frozen=True, slots=True)
class AuditVerification:
    """The hash chain walked end to end; ``first_bad_seq`` and ``problem`` when it is broken."""

    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None


def _user(data: dict[str, Any]) -> User:
    return User(
        name=data["name"],
        email=data.get("email"),
        disabled=data["disabled"],
        created_at=data["created_at"],
        created_by=data["created_by"],
    )


def _token(data: dict[str, Any]) -> Token:
    return Token(
        name=data["name"],
        user=data["user"],
        kind=data["kind"],
        created_at=data["created_at"],
        created_by=data["created_by"],
        expires_at=data.get("expires_at"),
    )


def _role(data: dict[str, Any]) -> Role:
    return Role(
        name=data["name"],
        description=data.get("description", ""),
        permissions=frozenset(data["permissions"]),
        builtin=data.get("builtin", False),
    )


def _assignment(data: dict[str, Any]) -> RoleAssignment:
    return RoleAssignment(
        user=data["user"],
        role=data["role"],
        workspace=data["workspace"],
        created_at=data["created_at"],
        created_by=data["created_by"],
    )


def _secret(data: dict[str, Any]) -> SecretInfo:
    return SecretInfo(
        name=data["name"],
        workspace=data["workspace"],
        created_at=data["created_at"],
        created_by=data["created_by"],
        updated_at=data["updated_at"],
        updated_by=data["updated_by"],
    )


def _audit_entry(data: dict[str, Any]) -> AuditEntry:
    return AuditEntry(
        seq=data["seq"],
        ts=data["ts"],
        actor=data["actor"],
        action=data["action"],
        target=data["target"],
        workspace=data["workspace"],
        status=data["status"],
        outcome=data["outcome"],
        detail=data.get("detail") or {},
        hash=data.get("hash", ""),  # prev_hash stays "": the API leaves it out
    )


def whoami(client: Client) -> WhoAmI:
    data = client.http.request("GET", "/api/v1/whoami")
    return WhoAmI(
        user=data["user"],
        kind=data["kind"],
        token_name=data.get("token_name"),
        email=data.get("email"),
        workspace=data["workspace"],
        only_workspace=data.get("only_workspace"),
        auth=data.get("auth", True),
        assignments=[_assignment(a) for a in data.get("assignments", [])],
        permissions=list(data.get("permissions", [])),
    )


class UserOperations:
    """Users of the server (server-wide: ``users:read`` / ``users:write`` held globally)."""

    def __init__(self, client: Client) -> None:
        self._http = client.http

    def create(self, name: str, *, email: str | None = None) -> User:
        return _user(self._http.request("POST", "/api/v1/users", json={"name": name, "email": email}))

    def list(self) -> builtins.list[User]:
        return [_user(u) for u in self._http.request("GET", "/api/v1/users")["users"]]

    def disable(self, name: str) -> User:
        """Its tokens stop working at once; its records and role assignments stay."""
        return _user(self._http.request("POST", f"/api/v1/users/{q(name)}/disable"))

    def enable(self, name: str) -> User:
        return _user(self._http.request("POST", f"/api/v1/users/{q(name)}/enable"))


class TokenOperations:
    """The caller's tokens, or another user's (that needs ``users:write``)."""

    def __init__(self, client: Client) -> None:
        self._http = client.http

    def create(self, name: str, *, user: str | None = None, expires_in_s: int | None = None) -> NewToken:
        """A new token labelled ``name``; ``expires_in_s`` None for one that never expires."""
        body = {"name": name, "user": user, "expires_in_seconds": expires_in_s}
        data = self._http.request("POST", "/api/v1/tokens", json=body)
        return NewToken(_token(data), data["token"])

    def list(self, *, user: str | None = None) -> builtins.list[Token]:
        params = {"user": user} if user else None
        return [_token(t) for t in self._http.request("GET", "/api/v1/tokens", params=params)["tokens"]]

    def revoke(self, name: str, *, user: str | None = None) -> None:
        params = {"user": user} if user else None
        self._http.request("DELETE", f"/api/v1/tokens/{q(name)}", params=params)


class RoleOperations:
    """Roles (built-in and custom) and who holds them where."""

    def __init__(self, client: Client) -> None:
        self._http = client.http

    def list(self) -> builtins.list[Role]:
        return [_role(r) for r in self._http.request("GET", "/api/v1/roles")["roles"]]

    def get(self, name: str) -> Role:
        return _role(self._http.request("GET", f"/api/v1/roles/{q(name)}"))

    def create(self, name: str, permissions: builtins.list[str], *, description: str = "") -> Role:
        """A custom role; ``permissions`` are ``resource:action``, ``resource:*`` or ``*``."""
        body = {"name": name, "description": description, "permissions": permissions}
        return _role(self._http.request("POST", "/api/v1/roles", json=body))

    def assignments(self, *, user: str | None = None) -> builtins.list[RoleAssignment]:
        params = {"user": user} if user else None
        data = self._http.request("GET", "/api/v1/role-assignments", params=params)
        return [_assignment(a) for a in data["assignments"]]

    def assign(self, user: str, role: str, *, workspace: str = ALL_WORKSPACES) -> RoleAssignment:
        """Give ``user`` the role in ``workspace``, or in every workspace (``"*"``)."""
        body = {"user": user, "role": role, "workspace": workspace}
        data = self._http.request("POST", "/api/v1/role-assignments", json=body, headers=_in(workspace))
        return _assignment(data)

    def revoke(self, user: str, role: str, *, workspace: str = ALL_WORKSPACES) -> None:
        params = {"user": user, "role": role, "workspace": workspace}
        self._http.request("DELETE", "/api/v1/role-assignments", params=params, headers=_in(workspace))


def _in(workspace: str) -> dict[str, str] | None:
    # The route checks roles:write in the request's workspace: an assignment in one
    # workspace is asked for there, so that an owner of only that workspace may make it.
    # A global one keeps the client's workspace (the service then wants a global grant).
    return None if workspace == ALL_WORKSPACES else {_WORKSPACE_HEADER: workspace}


class SecretOperations:
    """Secrets of the client's workspace: names and history only; values go in, never out."""

    def __init__(self, client: Client) -> None:
        self._http = client.http

    def set(self, name: str, value: str) -> SecretInfo:
        """Create or replace the secret ``name``."""
        return _secret(self._http.request("PUT", f"/api/v1/secrets/{q(name)}", json={"value": value}))

    def list(self) -> builtins.list[SecretInfo]:
        return [_secret(s) for s in self._http.request("GET", "/api/v1/secrets")["secrets"]]

    def delete(self, name: str) -> None:
        self._http.request("DELETE", f"/api/v1/secrets/{q(name)}")


class AuditOperations:
    """The append-only, hash-chained audit log (``audit:read`` held globally)."""

    def __init__(self, client: Client) -> None:
        self._http = client.http

    def list(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        since: int | None = None,
        before_seq: int | None = None,
        limit: int = 100,
    ) -> builtins.list[AuditEntry]:
        """Entries newest first, up to ``limit`` (following pages). ``action`` is one
        permission (``jobs:create``) or a resource (``jobs``); ``since`` is epoch ms."""
        out: builtins.list[AuditEntry] = []
        while len(out) < limit:
            page = min(_AUDIT_PAGE, limit - len(out))
            given = {"actor": actor, "action": action, "since": since, "before_seq": before_seq}
            params: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
            params["max_results"] = page
            data = self._http.request("GET", "/api/v1/audit", params=params)
            out.extend(_audit_entry(e) for e in data["entries"])
            before_seq = data.get("next_before_seq")
            if before_seq is None:
                break
        return out[:limit]

    def get(self, seq: int) -> AuditEntry | None:
        """Entry number ``seq``, or None when the log has no such entry."""
        found = self.list(before_seq=seq + 1, limit=1)
        return found[0] if found and found[0].seq == seq else None

    def verify(self) -> AuditVerification:
        data = self._http.request("GET", "/api/v1/audit/verify")
        return AuditVerification(
            ok=data["ok"],
            entries=data["entries"],
            head_seq=data["head_seq"],
            head_hash=data["head_hash"],
            first_bad_seq=data.get("first_bad_seq"),
            problem=data.get("problem"),
        )
