"""Tracking: experiments and runs, run artifacts, logged models, MLflow's artifact proxy."""

from __future__ import annotations

from shipyard.server.wiring import Wiring
from shipyard.services.artifacts import ArtifactService
from shipyard.services.logged_models import LoggedModelService
from shipyard.services.proxied_artifacts import ProxiedArtifactService
from shipyard.services.tracking import TrackingService

__all__ = ["artifacts", "logged_models", "proxied_artifacts", "tracking"]


def tracking(wiring: Wiring) -> TrackingService:
    service = TrackingService(wiring.database)
    service.bootstrap()  # the default workspace and experiment exist from the first start
    return service


def artifacts(wiring: Wiring) -> ArtifactService:
    return ArtifactService(wiring.database, wiring.store, wiring.settings.max_upload_bytes)


def logged_models(wiring: Wiring) -> LoggedModelService:
    return LoggedModelService(wiring.database, wiring.store)


def proxied_artifacts(wiring: Wiring) -> ProxiedArtifactService:
    return ProxiedArtifactService(wiring.typed("artifacts", ArtifactService))
