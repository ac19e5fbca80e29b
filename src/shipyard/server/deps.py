"""Request-scoped dependencies: the caller's context and the services on ``app.state``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request, Response
from pydantic import BaseModel, TypeAdapter

from shipyard.domain.context import DEFAULT_WORKSPACE, Principal, RequestContext
from shipyard.errors import Unauthenticated
from shipyard.services.access.audit import AuditLog
from shipyard.services.access.identity import IdentityService
from shipyard.services.access.secrets import SecretService
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

__all__ = ["Ctx", "Services", "Svc", "json_response"]

_T = TypeVar("_T")


class Services:
    """The server's services by name, as the resources' factories built them (``wiring.py``).

    The annotations type the services of the first resources for their handlers
    (``svc.jobs``); a newer resource's handler asks ``svc.get("schedules", ScheduleService)``
    and needs no line here.
    """

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
    identity: IdentityService
    secrets: SecretService
    audit: AuditLog

    def __init__(self, built: Mapping[str, object]) -> None:
        self.__dict__.update(built)  # plain attributes: a handler's svc.jobs costs a dict read

    def get(self, name: str, kind: type[_T]) -> _T:
        found = self.__dict__.get(name)
        if not isinstance(found, kind):
            raise TypeError(f"service {name!r} is a {type(found).__name__}, not a {kind.__name__}")
        return found


# Both are ``async`` though they never wait: FastAPI runs a plain ``def`` dependency in a
# worker thread, a hop of ~0.1 ms on every request.
async def _context(request: Request) -> RequestContext:
    # The guard (server/guard.py) checked the workspace header and found the principal;
    # authorize (server/access.py) checked the route's permission. Nothing here trusts a header.
    state = request.scope.get("state", {})
    principal: Principal | None = state.get("principal")
    if principal is None:
        raise Unauthenticated("sign in: send 'Authorization: Bearer <token>'")
    return RequestContext(principal=principal, workspace=state.get("workspace", DEFAULT_WORKSPACE))


async def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


Ctx = Annotated[RequestContext, Depends(_context)]
Svc = Annotated[Services, Depends(_services)]


def json_response(model: BaseModel | Any, status_code: int = 200) -> Response:
    """Serialise with pydantic directly: NaN/±inf become strings, and it skips a re-encode.

    ``model`` is a DTO or one of the answers shared with the SDK (``shipyard.api``, dataclasses).
    """
    body = model.model_dump_json() if isinstance(model, BaseModel) else _adapter(type(model)).dump_json(model)
    return Response(body, status_code=status_code, media_type="application/json")


_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _adapter(shape: type[Any]) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(shape)
    if adapter is None:  # built once per shape: building one costs milliseconds
        adapter = _ADAPTERS[shape] = TypeAdapter(shape)
    return adapter
