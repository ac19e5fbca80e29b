"""Token → principal, with what its roles grant. Verified tokens are cached.

Every API request and every ``aml_token`` scoring request asks; a cache hit is one sha256
and a dict lookup (well under the issue's 0.1 ms per request, see benchmarks/auth.py).
Changes made through this server (revoke, disable, role changes) empty the cache at once;
changes made by another server on the same database reach this one within ``ttl_s``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from shipyard.domain.access import BUILTIN_ROLES, Grants, Role
from shipyard.domain.context import Principal
from shipyard.domain.identity import Token, hash_token
from shipyard.errors import Unauthenticated
from shipyard.services._clock import now_ms
from shipyard.services.ports import Database, UnitOfWork

__all__ = ["Authenticator", "grants_of"]

_MAX_CACHED = 10_000


@dataclass(frozen=True, slots=True)
class _Cached:
    principal: Principal
    until: float  # monotonic
    expires_at: int | None  # the token's own expiry, epoch ms


def grants_of(uow: UnitOfWork, user: str, only_workspace: str | None = None) -> Grants:
    """What ``user``'s role assignments grant (unknown roles grant nothing)."""
    custom: dict[str, Role] = {}
    pairs: list[tuple[str, Role]] = []
    for assignment in uow.roles.assignments(user):
        role = BUILTIN_ROLES.get(assignment.role)
        if role is None:
            if assignment.role not in custom:
                found = uow.roles.get(assignment.role)
                if found is None:
                    continue
                custom[assignment.role] = found
            role = custom[assignment.role]
        pairs.append((assignment.workspace, role))
    return Grants.of(pairs, only_workspace)


class Authenticator:
    def __init__(self, db: Database, *, ttl_s: float = 10.0) -> None:
        self.db = db
        self.ttl_s = ttl_s
        self._cache: dict[str, _Cached] = {}
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        """Forget every verified token (after a revoke, a disable or a role change)."""
        with self._lock:
            self._cache.clear()

    def cached(self, token: str) -> Principal | None:
        """The principal when ``token`` was verified lately (no database access), else None."""
        cached = self._cache.get(hash_token(token))
        if cached is None or cached.until <= time.monotonic():
            return None
        if cached.expires_at is not None and cached.expires_at <= now_ms():
            return None
        return cached.principal

    def bearer(self, token: str) -> Principal:
        """The principal behind ``token``; Unauthenticated when it is unknown, expired or
        its user is disabled."""
        found = self.cached(token)
        if found is not None:
            return found
        digest = hash_token(token)
        principal, expires_at = self._load(digest)
        with self._lock:
            if len(self._cache) >= _MAX_CACHED:
                self._cache.clear()
            self._cache[digest] = _Cached(principal, time.monotonic() + self.ttl_s, expires_at)
        return principal

    def basic(self, username: str, password: str) -> Principal:
        """HTTP Basic as the mlflow client sends it: the user's name and one of its tokens."""
        principal = self.bearer(password)
        if principal.name != username:
            raise Unauthenticated("the token given as the password belongs to another user")
        return principal

    def _load(self, digest: str) -> tuple[Principal, int | None]:
        with self.db.read() as uow:
            token = uow.tokens.by_hash(digest)
            if token is None:
                raise Unauthenticated("the token is not valid (unknown or revoked)")
            if token.expires_at is not None and token.expires_at <= now_ms():
                raise Unauthenticated(
                    f"the token {token.name!r} of {token.user!r} has expired; create another with"
                    " `shipyard token create`"
                )
            user = uow.users.get(token.user)
            if user is None or user.disabled:
                raise Unauthenticated(f"user {token.user!r} is disabled")
            grants = grants_of(uow, token.user, token.workspace if token.kind == "job" else None)
        return _principal(token, grants), token.expires_at


def _principal(token: Token, grants: Grants) -> Principal:
    return Principal(
        name=token.user, authenticated=True, kind=token.kind, grants=grants, token_name=token.name
    )
