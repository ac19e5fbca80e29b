"""Who is asking, and in which workspace."""

from __future__ import annotations

from dataclasses import dataclass, field

from shipyard.domain.access import EVERYTHING, NOTHING, Grants

__all__ = ["DEFAULT_WORKSPACE", "LOCAL_USER", "Principal", "RequestContext"]

DEFAULT_WORKSPACE = "default"


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller behind a request, with what it may do.

    ``kind`` is ``user`` (a person's token), ``job`` (the short-lived token of a running
    job, acting as its submitter) or ``local`` (the one user of a ``--no-auth`` server).
    Principals are made by the server's authentication step only; services receive them.
    A principal made without grants may do nothing.
    """

    name: str
    authenticated: bool = False
    kind: str = "user"
    grants: Grants = field(default=NOTHING, compare=False)
    token_name: str | None = None

    def may(self, permission: str, workspace: str) -> bool:
        return self.grants.allows(permission, workspace)


LOCAL_USER = Principal(name="anonymous", kind="local", grants=EVERYTHING)
"""The principal of every request while auth is off (``shipyard up --no-auth``)."""


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Carried into every service call so mutations can record who did them, and where."""

    principal: Principal
    workspace: str = DEFAULT_WORKSPACE

    def may(self, permission: str) -> bool:
        """Whether the caller holds ``permission`` in this workspace."""
        return self.principal.may(permission, self.workspace)
