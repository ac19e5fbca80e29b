"""Users, their tokens, roles and role assignments.

The route table lets a request in with the coarse permission (``users:write``,
``roles:write``…); the rules that depend on *whose* record it is live here: anyone may
manage their own tokens, a job's token may make none, and the last global owner cannot be
disabled or lose the role (nobody could get back in).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from shipyard.domain.access import (
    ALL_WORKSPACES,
    BUILTIN_ROLES,
    NOTHING,
    Role,
    check_permission,
    check_role_name,
)
from shipyard.domain.context import Principal, RequestContext
from shipyard.domain.identity import (
    ADMIN_USER,
    RoleAssignment,
    Token,
    User,
    check_token_name,
    check_user_name,
    hash_token,
)
from shipyard.errors import AlreadyExists, Conflict, InvalidArgument, NotFound, PermissionDenied
from shipyard.services._clock import now_ms
from shipyard.services.access.authenticator import grants_of
from shipyard.services.ports import Database, UnitOfWork

__all__ = [
    "TOKEN_PREFIX",
    "IdentityService",
    "NewToken",
    "WhoAmI",
    "new_token_secret",
]

TOKEN_PREFIX = "shy_"  # noqa: S105 - a prefix, not a token
MIN_TOKEN_LENGTH = 24
MAX_TOKEN_TTL_S = 10 * 365 * 86400
_WORKSPACE_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_-")


def new_token_secret() -> str:
    """``shy_`` and 256 random bits, url-safe: recognisable in a leak scan, unguessable."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class NewToken:
    token: Token
    secret: str  # shown once, never stored


@dataclass(frozen=True, slots=True)
class WhoAmI:
    user: str
    kind: str
    token_name: str | None
    email: str | None
    assignments: list[RoleAssignment]
    only_workspace: str | None


def _check_workspace(workspace: str) -> str:
    if workspace == ALL_WORKSPACES:
        return workspace
    if not workspace or len(workspace) > 63 or not set(workspace) <= _WORKSPACE_CHARS or workspace[0] in "_-":
        raise InvalidArgument(
            f"a workspace is 1-63 lowercase letters, digits, '-' or '_' (or '*' for all); got {workspace!r}"
        )
    return workspace


class IdentityService:
    def __init__(self, db: Database, *, on_change: Callable[[], None] = lambda: None) -> None:
        self.db = db
        # Called after every change that can alter what a token grants: the authenticator's
        # cache must not keep a revoked token or a removed role alive.
        self._changed = on_change

    # -- first start -----------------------------------------------------------------

    def bootstrap_owner(self, token: str | None) -> str | None:
        """On a store with no users: create the owner ``admin`` with a token (``token``, or a
        new one) and return it. None when users already exist."""
        if token is not None and len(token) < MIN_TOKEN_LENGTH:
            raise InvalidArgument(f"SHIPYARD_ADMIN_TOKEN must be at least {MIN_TOKEN_LENGTH} characters long")
        secret = token or new_token_secret()
        now = now_ms()
        with self.db.write() as uow:
            if uow.users.count() > 0:
                return None
            uow.users.create(User(ADMIN_USER, None, False, now, "system"))
            uow.roles.assign(RoleAssignment(ADMIN_USER, "owner", ALL_WORKSPACES, now, "system"))
            uow.tokens.create(Token("initial", ADMIN_USER, "user", now, "system"), hash_token(secret))
        return secret

    # -- users -----------------------------------------------------------------------

    def create_user(self, ctx: RequestContext, name: str, email: str | None = None) -> User:
        check_user_name(name)
        if email is not None and ("@" not in email or len(email) > 320 or any(c.isspace() for c in email)):
            raise InvalidArgument(f"{email[:80]!r} is not an e-mail address")
        user = User(name, email, False, now_ms(), ctx.principal.name)
        with self.db.write() as uow:
            uow.users.create(user)
        return user

    def list_users(self) -> list[User]:
        with self.db.read() as uow:
            return uow.users.list()

    def set_disabled(self, ctx: RequestContext, name: str, disabled: bool) -> User:
        with self.db.write() as uow:
            if disabled:
                self._keep_an_owner(uow, losing=name)
            if not uow.users.set_disabled(name, disabled):
                raise NotFound(f"no user named {name!r}", name=name)
            found = uow.users.get(name)
        self._changed()
        assert found is not None
        return found

    # -- tokens ----------------------------------------------------------------------

    def _token_owner(self, ctx: RequestContext, user: str | None) -> str:
        principal = ctx.principal
        if principal.kind == "job":
            raise PermissionDenied("a job's token cannot manage tokens; use your own")
        owner = user or principal.name
        if owner != principal.name and not ctx.may("users:write"):
            raise PermissionDenied(f"managing the tokens of {owner!r} needs users:write")
        return owner

    def create_token(
        self, ctx: RequestContext, name: str, *, user: str | None = None, ttl_s: int | None = None
    ) -> NewToken:
        check_token_name(name)
        owner = self._token_owner(ctx, user)
        if ttl_s is not None and not 60 <= ttl_s <= MAX_TOKEN_TTL_S:
            raise InvalidArgument("a token expires between one minute and ten years from now")
        now = now_ms()
        token = Token(
            name,
            owner,
            "user",
            now,
            ctx.principal.name,
            expires_at=None if ttl_s is None else now + ttl_s * 1000,
        )
        secret = new_token_secret()
        with self.db.write() as uow:
            found = uow.users.get(owner)
            if found is None:
                raise NotFound(f"no user named {owner!r}", name=owner)
            if found.disabled:
                raise Conflict(f"user {owner!r} is disabled; enable it before issuing tokens")
            uow.tokens.create(token, hash_token(secret))
        return NewToken(token, secret)

    def list_tokens(self, ctx: RequestContext, user: str | None = None) -> list[Token]:
        if user is None and ctx.may("users:read"):
            wanted = None  # everyone's
        else:
            wanted = user or ctx.principal.name
            if wanted != ctx.principal.name and not ctx.may("users:read"):
                raise PermissionDenied(f"seeing the tokens of {wanted!r} needs users:read")
        with self.db.read() as uow:
            return [t for t in uow.tokens.list(wanted) if t.kind == "user"]

    def revoke_token(self, ctx: RequestContext, name: str, *, user: str | None = None) -> None:
        owner = self._token_owner(ctx, user)
        with self.db.write() as uow:
            if not uow.tokens.delete(owner, name):
                raise NotFound(f"user {owner!r} has no token named {name!r}", name=name)
        self._changed()

    def issue_job_token(self, submitter: str, workspace: str, job: str, ttl_s: int) -> str | None:
        """A token acting as ``submitter`` in ``workspace`` only, for the job's process;
        None when the submitter is no user of this server (a job from before auth)."""
        secret = new_token_secret()
        now = now_ms()
        token = Token(
            f"job/{workspace}/{job}", submitter, "job", now, "system",
            expires_at=now + ttl_s * 1000, workspace=workspace, job=job,
        )  # fmt: skip
        with self.db.write() as uow:
            found = uow.users.get(submitter)
            if found is None or found.disabled:
                return None
            uow.tokens.delete(submitter, token.name)  # a requeued job gets a fresh one
            uow.tokens.create(token, hash_token(secret))
        return secret

    def acting_as(self, user: str, workspace: str) -> Principal:
        """``user`` as a job of theirs acts in ``workspace`` (what it may register, say);
        a user gone or disabled since may do nothing."""
        with self.db.read() as uow:
            found = uow.users.get(user)
            grants = NOTHING if found is None or found.disabled else grants_of(uow, user, workspace)
        return Principal(user, authenticated=True, kind="job", grants=grants)

    def purge_expired(self) -> int:
        """Remove expired tokens (a job's that a crash left behind, say); how many."""
        with self.db.write() as uow:
            return uow.tokens.delete_expired(now_ms())

    def revoke_job_tokens(self, workspace: str, job: str) -> None:
        with self.db.write() as uow:
            gone = uow.tokens.delete_for_job(workspace, job)
        if gone:
            self._changed()

    # -- roles -----------------------------------------------------------------------

    def list_roles(self) -> list[Role]:
        with self.db.read() as uow:
            custom = uow.roles.list()
        return [*BUILTIN_ROLES.values(), *custom]

    def get_role(self, name: str) -> Role:
        if name in BUILTIN_ROLES:
            return BUILTIN_ROLES[name]
        with self.db.read() as uow:
            found = uow.roles.get(name)
        if found is None:
            raise NotFound(f"no role named {name!r}; `shipyard role list` shows them", name=name)
        return found

    def create_role(
        self, ctx: RequestContext, name: str, permissions: Iterable[str], description: str = ""
    ) -> Role:
        check_role_name(name)
        if name in BUILTIN_ROLES:
            raise AlreadyExists(f"{name!r} is a built-in role; choose another name", name=name)
        perms = frozenset(check_permission(p) for p in permissions)
        if not perms:
            raise InvalidArgument("a role needs at least one permission, e.g. permissions: [models:read]")
        if len(description) > 1000:
            raise InvalidArgument("a role's description is at most 1000 characters")
        role = Role(name, description, perms)
        with self.db.write() as uow:
            uow.roles.create(role, ctx.principal.name, now_ms())
        return role

    @staticmethod
    def _may_grant(ctx: RequestContext, workspace: str) -> None:
        # The route checked roles:write in the request's workspace; the assignment's own
        # workspace is what counts ('*' needs a global grant).
        if not ctx.principal.may("roles:write", workspace):
            raise PermissionDenied(f"changing roles in {_where(workspace)} needs roles:write there")

    def assign(self, ctx: RequestContext, user: str, role: str, workspace: str) -> RoleAssignment:
        _check_workspace(workspace)
        self._may_grant(ctx, workspace)
        self.get_role(role)
        assignment = RoleAssignment(user, role, workspace, now_ms(), ctx.principal.name)
        with self.db.write() as uow:
            if uow.users.get(user) is None:
                raise NotFound(f"no user named {user!r}; create it with `shipyard user create`", name=user)
            if not uow.roles.assign(assignment):
                raise AlreadyExists(
                    f"{user!r} already has the role {role!r} in {_where(workspace)}", name=role
                )
        self._changed()
        return assignment

    def unassign(self, ctx: RequestContext, user: str, role: str, workspace: str) -> None:
        _check_workspace(workspace)
        self._may_grant(ctx, workspace)
        with self.db.write() as uow:
            if role == "owner" and workspace == ALL_WORKSPACES:
                self._keep_an_owner(uow, losing=user)
            if not uow.roles.unassign(user, role, workspace):
                raise NotFound(f"{user!r} has no role {role!r} in {_where(workspace)}", name=role)
        self._changed()

    def assignments(self, user: str | None = None) -> list[RoleAssignment]:
        with self.db.read() as uow:
            return uow.roles.assignments(user)

    @staticmethod
    def _keep_an_owner(uow: UnitOfWork, losing: str) -> None:
        owners = {
            a.user for a in uow.roles.assignments() if a.role == "owner" and a.workspace == ALL_WORKSPACES
        }
        enabled = {u.name for u in uow.users.list() if not u.disabled}
        if (owners & enabled) <= {losing}:
            raise Conflict(
                f"{losing!r} is the last enabled owner of this server; make another user owner first"
                " (`shipyard role assign NAME --role owner`)"
            )

    # -- who am I --------------------------------------------------------------------

    def whoami(self, ctx: RequestContext) -> WhoAmI:
        principal = ctx.principal
        with self.db.read() as uow:
            user = uow.users.get(principal.name)
            assignments = uow.roles.assignments(principal.name) if user is not None else []
        return WhoAmI(
            user=principal.name,
            kind=principal.kind,
            token_name=principal.token_name,
            email=None if user is None else user.email,
            assignments=assignments,
            only_workspace=principal.grants.only_workspace,
        )


def _where(workspace: str) -> str:
    return "every workspace" if workspace == ALL_WORKSPACES else f"workspace {workspace!r}"
