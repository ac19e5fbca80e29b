"""Wire online endpoints: the deployment runtime (local worker processes), the environment
builder, the endpoint and deployment services, and on a server with the ``serving`` role its
share of bringing deployments up and following the others (:mod:`shipyard.services.endpoint_rollouts`).

Kept apart from ``app.py`` for the reason ``jobs_runtime.py`` is: this is the one place that
picks the concrete serving backend.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shipyard.services.access.process_credentials import ProcessCredentials
from shipyard.services.endpoint_deployments import DeploymentService
from shipyard.services.endpoint_logs import (
    FilePreparationLogs,
    StreamPreparationLogs,
    WorkerLogs,
    shared_worker_logs,
)
from shipyard.services.endpoint_models import ModelFiles
from shipyard.services.endpoint_rollouts import DeploymentRollouts
from shipyard.services.endpoints import EndpointService
from shipyard.services.job_assets import EnvironmentService
from shipyard.services.log_streams import LogStreams
from shipyard.services.ports import ArtifactStore, Database
from shipyard.services.registry import RegistryService
from shipyard.services.scoring_replica import ScoringReplica
from shipyard.services.serving_ports import DeploymentRuntime
from shipyard.services.snapshots import SnapshotService
from shipyard.settings import Settings
from shipyard.stores.sql.endpoints import DEPLOYMENTS_CHANNEL
from shipyard.stores.sql.wakeups import open_wakeups

__all__ = ["EndpointsRuntime", "build_endpoints"]

# How often a serving server looks for lapsed leases and for changes made elsewhere (with
# PostgreSQL's NOTIFY, changes arrive at once; the poll covers wake-ups missed meanwhile).
_POLL_S = 1.0


@dataclass(frozen=True, slots=True)
class EndpointsRuntime:
    endpoints: EndpointService
    deployments: DeploymentService
    runtime: DeploymentRuntime | None
    rollouts: DeploymentRollouts | None = None  # None: a server without the serving role, or a replica
    worker_logs: WorkerLogs | None = None  # None: a server without the serving role, or a replica

    def start(self) -> None:
        """Take this server's share of the deployments (in the background): what it was
        bringing up before a restart, what nobody brings up, every Succeeded one to run here."""
        if self.rollouts is not None:
            self.rollouts.start()

    def stop(self) -> None:
        if self.rollouts is not None:
            self.rollouts.stop()
        self.deployments.close()
        if self.runtime is not None:
            self.runtime.close()
        if self.worker_logs is not None:
            self.worker_logs.close()  # after the runtime's last lines ("the server is stopping")


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
    # A lease holder is the server's home (the job runner's node id): kept across restarts.
    from shipyard.server.jobs_runtime import node_of

    node = node_of(settings.home) if state_root is None else None
    deployments_dir = root / "deployments"
    runtime: DeploymentRuntime | None = None
    builder = None
    streams = LogStreams(database, store)
    # A server shares its workers' output; a replica never writes to the database.
    worker_logs = (
        WorkerLogs(database, streams, node.label, settings.deployment_log_max_mib << 20)
        if node is not None and settings.has_role("serving")
        else None
    )
    if settings.has_role("serving"):
        from shipyard.environments.uv_builder import UvEnvironmentBuilder
        from shipyard.serving.local import LocalProcessRuntime

        # The runtime imports nothing heavy; workers import mlflow/pandas in their own process.
        runtime = LocalProcessRuntime(
            root / "serving", log_mirror=None if worker_logs is None else worker_logs.mirror
        )
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
            StreamPreparationLogs(database, streams)
            if state_root is None
            else FilePreparationLogs(deployments_dir)
        ),
        owner="local" if node is None else node.id,
        owner_label="replica" if node is None else node.label,
        lease_s=settings.job_lease_seconds,
        worker_logs=None if state_root is not None else shared_worker_logs(database, streams),
    )
    rollouts = None
    if runtime is not None and node is not None:
        follower = ScoringReplica(
            database, endpoints, deployments, runtime, poll_s=_POLL_S, owns_runtime=False
        )
        wakeups = open_wakeups(settings.resolved_database_url(), channel=DEPLOYMENTS_CHANNEL)
        rollouts = DeploymentRollouts(deployments, follower, wakeups, poll_s=_POLL_S)
    return EndpointsRuntime(endpoints, deployments, runtime, rollouts, worker_logs)
