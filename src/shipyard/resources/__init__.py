"""One descriptor per resource: what the server, the store, the SDK and the CLI need of it.

A resource (jobs, online endpoints, the model registry…) is described once, in a module of
this package that defines ``RESOURCE``, a :class:`Resource`. The central files find it
there instead of naming it: the unit of work builds its repositories
(``stores/sql/database.py``), ``tables.py`` loads its tables, ``create_app`` builds its
services and includes its routers, the access table takes its route rules, ``shipyard``
lists its commands. Adding a resource is adding files; docs/architecture.md gives the recipe.

Descriptors hold import paths (``"module:attribute"``), not objects, as the backend
registries do: the CLI reads them to list its commands and must not import the server to do
so (its start-up is measured), and the store must not import the routers. This package
imports nothing of ours; a test imports every path it names.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Resource", "RouteRule", "load", "merged", "register", "resources", "unregister"]


@dataclass(frozen=True, slots=True)
class RouteRule:
    """A route's permission (see ``server/access.py``'s ``Rule``, which this becomes)."""

    permission: str  # "public", "signed-in" or resource:action from the permission catalogue
    server_wide: bool = False
    upload: bool = False


@dataclass(frozen=True, slots=True)
class Resource:
    name: str
    position: int
    """Where its routers go among the others (the OpenAPI document keeps this order)."""
    repositories: Mapping[str, str] = field(default_factory=dict)
    """Unit-of-work attribute → repository class, built from the transaction's connection
    on first use (``uow.jobs``)."""
    tables: tuple[str, ...] = ()
    """Modules whose tables join the store's one ``metadata`` (migrations, ``create_all``)."""
    services: Mapping[str, str] = field(default_factory=dict)
    """Service name → factory ``f(wiring) -> service`` (``server/wiring.py``), what handlers
    reach as ``svc.<name>``."""
    routers: tuple[str, ...] = ()
    """FastAPI routers, included on servers with the ``api`` role."""
    rules: Mapping[tuple[str, str], RouteRule] = field(default_factory=dict)
    """(method, path) → rule for routes of its own beyond ``server/access.py``'s table."""
    install: str | None = None
    """``f(app, wiring)`` run after the routers, on every server (scoring, app state)."""
    commands: Mapping[str, str] = field(default_factory=dict)
    """``shipyard`` top-level command name → Typer app or command function."""
    cli_position: int | None = None
    """Where its commands go in ``shipyard --help`` (default: ``position``)."""


def load(path: str) -> Any:
    """The object at ``"module:attribute"``."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


_found: list[Resource] | None = None
_added: dict[str, Resource] = {}


def _discover() -> list[Resource]:
    global _found  # noqa: PLW0603 - discovered once per process: modules never change
    if _found is None:
        found = []
        for info in pkgutil.iter_modules(__path__):
            if not info.name.startswith("_"):
                found.append(importlib.import_module(f"{__name__}.{info.name}").RESOURCE)
        _found = found
    return _found


def resources() -> list[Resource]:
    """Every resource: this package's modules, then those added by :func:`register`, by position."""
    every = {r.name: r for r in _discover()}
    for name, resource in _added.items():
        if name in every:
            raise ValueError(f"two resources named {name!r}")
        every[name] = resource
    return sorted(every.values(), key=lambda r: (r.position, r.name))


def merged(part: str) -> dict[str, str]:
    """One of the descriptors' name → path tables (``"repositories"``, ``"services"``,
    ``"commands"``) over every resource; a name two resources claim is refused."""
    table: dict[str, str] = {}
    owner: dict[str, str] = {}
    for resource in resources():
        for name, path in getattr(resource, part).items():
            if name in table:
                raise ValueError(f"{part} {name!r} is registered by {owner[name]} and {resource.name}")
            table[name], owner[name] = path, resource.name
    return table


def register(resource: Resource) -> None:
    """Add a resource defined elsewhere (a plugin, a test) to what servers built later serve."""
    _added[resource.name] = resource


def unregister(name: str) -> None:
    _added.pop(name, None)
