"""Data assets."""

from __future__ import annotations

from shipyard.server.wiring import Wiring
from shipyard.services.data_assets import DataAssetService
from shipyard.services.snapshots import SnapshotService

__all__ = ["data"]


def data(wiring: Wiring) -> DataAssetService:
    return DataAssetService(wiring.database, wiring.typed("snapshots", SnapshotService))
