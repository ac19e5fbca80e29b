"""Online endpoints and deployments (``endpoints_runtime.py``), and the scoring router."""

from __future__ import annotations

from fastapi import FastAPI

from shipyard.server.endpoints_runtime import EndpointsRuntime, build_endpoints
from shipyard.server.scoring_app import mount_scoring
from shipyard.server.wiring import Wiring
from shipyard.services.endpoint_deployments import DeploymentService
from shipyard.services.endpoints import EndpointService
from shipyard.services.job_assets import EnvironmentService
from shipyard.services.monitoring.system import DeploymentSystemService
from shipyard.services.registry import RegistryService
from shipyard.services.snapshots import SnapshotService

__all__ = ["deployment_system", "deployments", "endpoints", "install", "serving"]


def serving(wiring: Wiring) -> EndpointsRuntime:
    built = build_endpoints(
        wiring.settings,
        wiring.database,
        wiring.store,
        wiring.typed("snapshots", SnapshotService),
        wiring.typed("registry", RegistryService),
        wiring.typed("environments", EnvironmentService),
        wiring.public_url,
        wiring.access.credentials,
    )
    wiring.on_start(built.start, built.stop)
    return built


def endpoints(wiring: Wiring) -> EndpointService:
    return wiring.typed("serving", EndpointsRuntime).endpoints


def deployments(wiring: Wiring) -> DeploymentService:
    return wiring.typed("serving", EndpointsRuntime).deployments


def deployment_system(wiring: Wiring) -> DeploymentSystemService:
    """Reads the per-minute rows every scoring server writes to the shared artifact store, so
    any API server answers for all of them."""
    return DeploymentSystemService(wiring.typed("deployments", DeploymentService), wiring.store)


def install(app: FastAPI, wiring: Wiring) -> None:
    """``/endpoints/<name>/score`` and ``/metrics`` on a server with the serving role."""
    built = wiring.typed("serving", EndpointsRuntime)
    if built.runtime is None:
        return
    scoring = mount_scoring(
        app,
        built.endpoints,
        built.runtime,
        wiring.store,
        max_body_bytes=wiring.settings.max_score_bytes,
        tokens=wiring.access.authenticator,
    )
    wiring.on_start(scoring.start, scoring.stop)
