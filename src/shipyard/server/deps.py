"""Request-scoped dependencies: the caller's context and the services on ``app.state``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from pydantic import BaseModel

from shipyard.domain.context import ANONYMOUS, DEFAULT_WORKSPACE, RequestContext
from shipyard.errors import InvalidArgument
from shipyard.services.artifacts import ArtifactService
from shipyard.services.batch_endpoints import BatchEndpointService
from shipyard.services.batch_jobs import BatchJobService
from shipyard.services.data_assets import DataAssetService
from shipyard.services.endpoint_deployments import DeploymentService
from shipyard.services.endpoints import EndpointService
from shipyard.services.job_assets import ComputeService, EnvironmentService
from shipyard.services.jobs import JobService
from shipyard.services.logged_models import LoggedModelService
from shipyard.services.proxied_artifacts import ProxiedArtifactService
from shipyard.services.registry import RegistryService
from shipyard.services.snapshots import SnapshotService
from shipyard.services.tracking import TrackingService

__all__ = ["WORKSPACE_HEADER", "Ctx", "Services", "Svc", "json_response"]

WORKSPACE_HEADER = "Shipyard-Workspace"
_WORKSPACE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


@dataclass(frozen=True, slots=True)
class Services:
    tracking: TrackingService
    artifacts: ArtifactService
    registry: RegistryService
    logged_models: LoggedModelService
    proxied_artifacts: ProxiedArtifactService
    snapshots: SnapshotService
    data: DataAssetService
    jobs: JobService
    environments: EnvironmentService
    computes: ComputeService
    endpoints: EndpointService
    deployments: DeploymentService
    batch_endpoints: BatchEndpointService
    batch_jobs: BatchJobService


def _context(request: Request) -> RequestContext:
    # While auth is off every caller is the local anonymous user; an auth middleware will
    # put a real principal on request.state without any handler changing.
    principal = getattr(request.state, "principal", ANONYMOUS)
    workspace = request.headers.get(WORKSPACE_HEADER, DEFAULT_WORKSPACE)
    if not _WORKSPACE.match(workspace):
        raise InvalidArgument(
            f"{WORKSPACE_HEADER} must be 1-63 lowercase letters, digits, '-' or '_'; got {workspace[:80]!r}"
        )
    return RequestContext(principal=principal, workspace=workspace)


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


Ctx = Annotated[RequestContext, Depends(_context)]
Svc = Annotated[Services, Depends(_services)]


def json_response(model: BaseModel, status_code: int = 200) -> Response:
    """Serialise with pydantic directly: NaN/±inf become strings, and it skips a re-encode."""
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")
