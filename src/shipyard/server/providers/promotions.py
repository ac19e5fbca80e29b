"""Promotions: built on the registry, tracking and the artifact store (to copy versions)."""

from __future__ import annotations

from shipyard.server.wiring import Wiring
from shipyard.services.promotions import PromotionService
from shipyard.services.registry import RegistryService
from shipyard.services.tracking import TrackingService

__all__ = ["promotions"]


def promotions(wiring: Wiring) -> PromotionService:
    return PromotionService(
        wiring.database,
        wiring.typed("registry", RegistryService),
        wiring.typed("tracking", TrackingService),
        wiring.store,
    )
