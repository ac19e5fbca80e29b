"""Wire online endpoints: the deployment runtime (local worker processes), the environment
builder, and the endpoint and deployment services.

Kept apart from ``app.py`` for the reason ``jobs_runtime.py`` is: this is the one place that
picks the concrete serving backend.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shipyard.services.access.process_credentials import ProcessCredentials
from shipyard.services.endpoint_deployments import DeploymentService
from shipyard.services.endpoint_logs import FilePreparationLogs, StreamPreparationLogs
from shipyard.services.endpoint_models import ModelFiles
from shipyard.services.endpoints import EndpointService
from shipyard.services.job_assets import EnvironmentService
from shipyard.services.log_streams import LogStreams
from shipyard.services.ports import ArtifactStore, Database
from shipyard.services.registry import RegistryService
from shipyard.services.serving_ports import DeploymentRuntime
from shipyard.services.snapshots import SnapshotService
from shipyard.settings import Settings

__all__ = ["EndpointsRuntime", "build_endpoints"]


@dataclass(frozen=True, slots=True)
class EndpointsRuntime:
    endpoints: EndpointService
    deployments: DeploymentService
    runtime: DeploymentRuntime | None

    def start(self) -> None:
        """Re-apply what ran before the restart (in the background)."""
        self.deployments.recover()

    def stop(self) -> None:
        self.deployments.close()
        if self.runtime is not None:
            self.runtime.close()


def build_endpoints(
    settings: Settings,
    database: Database,
    store: ArtifactStore,
    snapshots: SnapshotService,
    registry: RegistryService,
    environments: EnvironmentService,
    public_url: Callable[[], str],
    credentials: ProcessCredentials,
    *,
    state_root: Path | None = None,
) -> EndpointsRuntime:
    """``state_root`` holds the workers' state and the materialised deployments (default:
    the server's home; a scoring replica passes a folder of its own). A server keeps the
    preparation logs in the artifact store, readable from every server; a replica, which
    never writes to the database, in files of its own."""
    root = settings.home if state_root is None else state_root
    deployments_dir = root / "deployments"
    runtime: DeploymentRuntime | None = None
    builder = None
    if settings.has_role("serving"):
        from shipyard.environments.uv_builder import UvEnvironmentBuilder
        from shipyard.serving.local import LocalProcessRuntime

        # The runtime imports nothing heavy; workers import mlflow/pandas in their own process.
        runtime = LocalProcessRuntime(root / "serving")
        builder = UvEnvironmentBuilder(settings.environments_dir)
    endpoints = EndpointService(
        database, runtime, deployments_dir, public_url, allow_anonymous=not settings.auth
    )
    deployments = DeploymentService(
        database,
        endpoints,
        ModelFiles(database, store, registry, snapshots),
        snapshots,
        environments,
        builder,
        runtime,
        deployments_dir,
        credentials,
        preparation=(
            StreamPreparationLogs(database, LogStreams(database, store))
            if state_root is None
            else FilePreparationLogs(deployments_dir)
        ),
    )
    return EndpointsRuntime(endpoints, deployments, runtime)
