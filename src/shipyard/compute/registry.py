"""One registry of compute backends, built-ins included: lazy import paths plus entry points.

A backend is a :class:`~shipyard.services.compute.ComputeTarget` subclass whose constructor
takes ``(config, state_dir)`` through :func:`open_target`. Third parties register theirs in
the ``shipyard.compute`` entry-point group with the same ``module:Class`` form::

    [project.entry-points."shipyard.compute"]
    slurm = "shipyard_slurm:SlurmTarget"     # SlurmTarget.from_config(config, state_dir)

Nothing here imports a backend until it is opened, so Ray is only imported for ``ray``.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from shipyard.errors import InvalidArgument
from shipyard.services.compute import ComputeConfig, ComputeTarget

__all__ = ["COMPUTE_TARGETS", "known_kinds", "open_target"]

COMPUTE_TARGETS: dict[str, str] = {
    "local": "shipyard.compute.local:LocalTarget",
    "ray": "shipyard.compute.ray:RayTarget",
}

_EXTRAS = {"ray": "pip install 'shipyard[ray]'"}


def _plugins() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group="shipyard.compute")}


def known_kinds() -> list[str]:
    return sorted({*COMPUTE_TARGETS, *_plugins()})


def _load(kind: str) -> Any:
    path = COMPUTE_TARGETS.get(kind) or _plugins().get(kind)
    if path is None:
        raise InvalidArgument(
            f"unknown compute kind {kind!r}; known kinds: {', '.join(known_kinds())}", kind=kind
        )
    module, _, name = path.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError as exc:
        hint = _EXTRAS.get(kind, f"install the package that provides {module}")
        raise InvalidArgument(f"the {kind!r} compute target needs {exc.name or exc}: {hint}") from exc


def open_target(config: ComputeConfig, state_dir: Path) -> ComputeTarget:
    """The target ``config`` describes; ``state_dir`` is where it keeps per-job files
    (give each registered target its own, stable across restarts)."""
    cls = _load(config.kind)
    target = cls.from_config(config, Path(state_dir))
    if not isinstance(target, ComputeTarget):
        raise InvalidArgument(f"{cls!r} for compute kind {config.kind!r} is not a ComputeTarget")
    return target
