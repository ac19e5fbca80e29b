"""Jobs, environments and computes: one runtime (``jobs_runtime.py``) serves the three."""

from __future__ import annotations

from fastapi import FastAPI

from shipyard.server.jobs_runtime import JobsRuntime, build_jobs
from shipyard.server.wiring import Wiring
from shipyard.services.artifacts import ArtifactService
from shipyard.services.data_assets import DataAssetService
from shipyard.services.job_assets import ComputeService, EnvironmentService
from shipyard.services.jobs import JobService
from shipyard.services.registry import RegistryService
from shipyard.services.snapshots import SnapshotService

__all__ = ["computes", "environments", "install", "jobs", "runtime"]


def runtime(wiring: Wiring) -> JobsRuntime:
    built = build_jobs(
        wiring.settings,
        wiring.database,
        wiring.store,
        wiring.typed("artifacts", ArtifactService),
        wiring.typed("snapshots", SnapshotService),
        wiring.typed("data", DataAssetService),
        wiring.typed("registry", RegistryService),
        wiring.public_url,
        wiring.access.credentials,
    )
    wiring.on_start(built.start, built.stop)
    return built


def jobs(wiring: Wiring) -> JobService:
    return wiring.typed("jobs_runtime", JobsRuntime).jobs


def environments(wiring: Wiring) -> EnvironmentService:
    return wiring.typed("jobs_runtime", JobsRuntime).environments


def computes(wiring: Wiring) -> ComputeService:
    return wiring.typed("jobs_runtime", JobsRuntime).computes


def install(app: FastAPI, wiring: Wiring) -> None:
    # The runner takes the home's job lock before the server announces its address.
    app.state.jobs_runtime = wiring.typed("jobs_runtime", JobsRuntime)
