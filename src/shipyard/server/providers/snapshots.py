"""Code snapshots."""

from __future__ import annotations

from shipyard.server.wiring import Wiring
from shipyard.services.artifacts import ArtifactService
from shipyard.services.snapshots import SnapshotService

__all__ = ["snapshots"]


def snapshots(wiring: Wiring) -> SnapshotService:
    return SnapshotService(wiring.store, wiring.typed("artifacts", ArtifactService))
