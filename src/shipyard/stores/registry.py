"""One registry for backends, built-ins included: lazy import paths plus entry points.

Core never imports a backend it does not use; third parties add theirs through the
``shipyard.artifact_stores`` entry-point group with the same ``module:Class`` form.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from shipyard.errors import InvalidArgument
from shipyard.services.ports import ArtifactStore, Database

__all__ = ["ARTIFACT_STORES", "open_artifact_store", "open_database"]

ARTIFACT_STORES: dict[str, str] = {
    "file": "shipyard.stores.artifacts.local:LocalArtifactStore",
    "fsspec": "shipyard.stores.artifacts.fsspec_store:FsspecArtifactStore",
}


def _load(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def open_artifact_store(location: str, staging_dir: Path | None = None) -> ArtifactStore:
    """A folder or ``file://`` URL → local store; a registered scheme → its plugin; any
    other URL → fsspec (which knows s3, gcs, azure, memory… when their packages are installed)."""
    scheme = urlparse(location).scheme
    if scheme in ("", "file") or len(scheme) == 1:  # len 1: a Windows drive letter
        root = location[len("file://") :] if scheme == "file" else location
        return _load(ARTIFACT_STORES["file"])(root)  # type: ignore[no-any-return]
    plugins = {ep.name: ep.value for ep in entry_points(group="shipyard.artifact_stores")}
    if scheme in plugins:
        return _load(plugins[scheme])(location)  # type: ignore[no-any-return]
    try:
        return _load(ARTIFACT_STORES["fsspec"])(location, staging_dir)  # type: ignore[no-any-return]
    except (ImportError, ValueError) as exc:
        raise InvalidArgument(
            f"no artifact store for {scheme}:// ({exc}); install its extra, e.g. shipyard[s3]"
        ) from exc


def open_database(url: str) -> Database:
    """A server's metadata store; a SQLite file is first claimed for this machine (a server
    of another machine on the same file is refused: see ``stores.sql.sqlite_host``)."""
    from shipyard.stores.sql.sqlite_host import HostClaimedDatabase

    return HostClaimedDatabase(url)
