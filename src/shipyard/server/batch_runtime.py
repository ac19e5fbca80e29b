"""Wire batch endpoints: the endpoint service and the invocation service over jobs."""

from __future__ import annotations

from dataclasses import dataclass

from shipyard.server.jobs_runtime import JobsRuntime
from shipyard.services.batch_endpoints import BatchEndpointService
from shipyard.services.batch_jobs import BatchJobService
from shipyard.services.data_assets import DataAssetService
from shipyard.services.endpoint_models import ModelFiles
from shipyard.services.ports import ArtifactStore, Database
from shipyard.services.registry import RegistryService
from shipyard.services.snapshots import SnapshotService

__all__ = ["BatchRuntime", "build_batch"]


@dataclass(frozen=True, slots=True)
class BatchRuntime:
    endpoints: BatchEndpointService
    jobs: BatchJobService


def build_batch(
    database: Database,
    store: ArtifactStore,
    snapshots: SnapshotService,
    registry: RegistryService,
    data: DataAssetService,
    jobs: JobsRuntime,
) -> BatchRuntime:
    models = ModelFiles(database, store, registry, snapshots)
    endpoints = BatchEndpointService(
        database, models, snapshots, jobs.environments, jobs.computes, jobs.jobs.secrets
    )
    return BatchRuntime(endpoints, BatchJobService(database, endpoints, data, jobs.jobs))
