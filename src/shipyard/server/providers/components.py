"""Components."""

from __future__ import annotations

from shipyard.server.wiring import Wiring
from shipyard.services.components import ComponentService
from shipyard.services.snapshots import SnapshotService

__all__ = ["components"]


def components(wiring: Wiring) -> ComponentService:
    return ComponentService(wiring.database, wiring.typed("snapshots", SnapshotService))
