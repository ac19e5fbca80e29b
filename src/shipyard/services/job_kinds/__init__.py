"""Job types beyond ``command``: each module here with a ``KIND`` is one (see :mod:`.base`).

Found by looking, not by a list: adding a type is adding a module, and nothing else in the
runner, the orchestrator or the HTTP API changes.
"""

from __future__ import annotations

import functools
import importlib
import logging
import pkgutil

from shipyard.services.job_kinds.base import JobKind

__all__ = ["JobKind", "kind_of", "kinds"]

log = logging.getLogger("shipyard.jobs")


@functools.cache
def kinds() -> dict[str, JobKind]:
    """Every composite job type, by its ``type:`` value."""
    found: dict[str, JobKind] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_") or info.name == "base":
            continue
        try:
            module = importlib.import_module(f"{__name__}.{info.name}")
        except Exception:  # one broken plug-in must not take the other types down
            log.exception("job type module %s could not be imported; its type is not served", info.name)
            continue
        kind = getattr(module, "KIND", None)
        if isinstance(kind, JobKind):
            found[kind.type] = kind
    return found


def kind_of(type_: str) -> JobKind | None:
    """The plug-in of a composite type; None for ``command`` (and for an unknown type)."""
    return kinds().get(type_)
