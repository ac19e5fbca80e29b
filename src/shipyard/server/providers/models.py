"""The model registry."""

from __future__ import annotations

from shipyard.server.wiring import Wiring
from shipyard.services.registry import RegistryService

__all__ = ["registry"]


def registry(wiring: Wiring) -> RegistryService:
    return RegistryService(wiring.database)
