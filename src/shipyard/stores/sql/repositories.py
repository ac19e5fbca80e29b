"""The SQL repository of each unit-of-work attribute, as the resources register them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from shipyard.resources import load, merged

__all__ = ["repository_class"]

RepositoryClass = Callable[[Connection], Any]

_classes: dict[str, RepositoryClass] = {}


def repository_class(name: str) -> RepositoryClass:
    """The class that implements ``uow.<name>``; AttributeError when no resource registers one."""
    found = _classes.get(name)
    if found is None:
        # First use of the name in this process (or a resource registered since): look it up.
        paths = merged("repositories")
        if name not in paths:
            raise AttributeError(f"no resource registers a repository named {name!r}")
        found = _classes[name] = load(paths[name])
    return found
