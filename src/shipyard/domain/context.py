"""Who is asking, and in which workspace."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ANONYMOUS", "DEFAULT_WORKSPACE", "Principal", "RequestContext"]

DEFAULT_WORKSPACE = "default"


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller behind a request. While auth is off everyone is the local anonymous user."""

    name: str
    authenticated: bool = False


ANONYMOUS = Principal(name="anonymous")


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Carried into every service call so mutations can record who did them, and where."""

    principal: Principal
    workspace: str = DEFAULT_WORKSPACE
