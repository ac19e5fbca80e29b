"""Wire the "develop" stage: environment builder, compute targets, job services and runner.

Kept apart from ``app.py`` because it is the one place that picks concrete backends (the uv
builder, the compute registry) for the job services, as ``stores.registry`` does for stores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shipyard.domain.jobs import Compute
from shipyard.services.access.process_credentials import ProcessCredentials
from shipyard.services.artifacts import ArtifactService
from shipyard.services.compute import ComputeConfig, ComputeTarget
from shipyard.services.data_assets import DataAssetService
from shipyard.services.job_assets import ComputeService, EnvironmentService
from shipyard.services.job_inputs import InputResolver
from shipyard.services.job_outputs import OutputRegistrar
from shipyard.services.job_runner import JobRunner
from shipyard.services.jobs import JobService
from shipyard.services.ports import ArtifactStore, Database
from shipyard.services.registry import RegistryService
from shipyard.services.snapshots import SnapshotService
from shipyard.settings import Settings

__all__ = ["JobsRuntime", "build_jobs"]


@dataclass(frozen=True, slots=True)
class JobsRuntime:
    jobs: JobService
    environments: EnvironmentService
    computes: ComputeService
    runner: JobRunner | None


def _open_target(compute: Compute, state_dir: Path) -> ComputeTarget:
    from shipyard.compute.registry import open_target

    config = ComputeConfig(
        kind=compute.kind, name=compute.name, max_concurrent=compute.max_concurrent, address=compute.address
    )
    return open_target(config, state_dir)


def build_jobs(
    settings: Settings,
    database: Database,
    store: ArtifactStore,
    artifacts: ArtifactService,
    snapshots: SnapshotService,
    data_assets: DataAssetService,
    registry: RegistryService,
    tracking_uri: Callable[[], str],
    credentials: ProcessCredentials,
) -> JobsRuntime:
    environments = EnvironmentService(database)
    computes = ComputeService(database, settings.local_max_concurrent)
    runner = None
    if settings.run_jobs:
        from shipyard.environments.uv_builder import UvEnvironmentBuilder

        runner = JobRunner(
            database,
            artifacts,
            environments,
            computes,
            UvEnvironmentBuilder(settings.environments_dir),
            InputResolver(database, store, snapshots),
            _open_target,
            jobs_dir=settings.jobs_dir,
            state_dir=settings.compute_state_dir,
            tracking_uri=tracking_uri,
            outputs=OutputRegistrar(snapshots, data_assets, registry),
            credentials=credentials,
        )
    jobs = JobService(
        database,
        environments,
        computes,
        settings.jobs_dir,
        runner,
        snapshots=snapshots,
        max_code_bytes=settings.max_code_bytes,
        secrets=credentials.secrets,
    )
    return JobsRuntime(jobs, environments, computes, runner)
