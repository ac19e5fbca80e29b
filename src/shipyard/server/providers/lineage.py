"""Lineage: the service reads every resource's store; it keeps nothing of its own."""

from __future__ import annotations

from shipyard.server.wiring import Wiring
from shipyard.services.lineage import LineageService

__all__ = ["lineage"]


def lineage(wiring: Wiring) -> LineageService:
    return LineageService(wiring.database)
