"""Batch endpoints and their invocations (``batch_runtime.py``)."""

from __future__ import annotations

from shipyard.server.batch_runtime import BatchRuntime, build_batch
from shipyard.server.jobs_runtime import JobsRuntime
from shipyard.server.wiring import Wiring
from shipyard.services.batch_endpoints import BatchEndpointService
from shipyard.services.batch_jobs import BatchJobService
from shipyard.services.data_assets import DataAssetService
from shipyard.services.registry import RegistryService
from shipyard.services.snapshots import SnapshotService

__all__ = ["batch_endpoints", "batch_jobs", "runtime"]


def runtime(wiring: Wiring) -> BatchRuntime:
    return build_batch(
        wiring.database,
        wiring.store,
        wiring.typed("snapshots", SnapshotService),
        wiring.typed("registry", RegistryService),
        wiring.typed("data", DataAssetService),
        wiring.typed("jobs_runtime", JobsRuntime),
    )


def batch_endpoints(wiring: Wiring) -> BatchEndpointService:
    return wiring.typed("batch_runtime", BatchRuntime).endpoints


def batch_jobs(wiring: Wiring) -> BatchJobService:
    return wiring.typed("batch_runtime", BatchRuntime).jobs
