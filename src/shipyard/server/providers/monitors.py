"""Monitors: the service behind /api/v1/monitors, and on servers with the ``jobs`` role the
:class:`MonitorRunner` the ``monitor`` job type computes with."""

from __future__ import annotations

from shipyard.domain.context import RequestContext
from shipyard.server.jobs_runtime import JobsRuntime
from shipyard.server.wiring import Wiring
from shipyard.services.artifacts import ArtifactService
from shipyard.services.jobs import JobService
from shipyard.services.monitoring.monitors import MonitorService
from shipyard.services.monitoring.runner import MonitorRunner
from shipyard.services.monitoring.server_sources import ServerSources
from shipyard.services.schedules import ScheduleService
from shipyard.services.snapshots import SnapshotService

__all__ = ["monitors"]


def monitors(wiring: Wiring) -> MonitorService:
    jobs = wiring.typed("jobs", JobService)
    runtime = wiring.typed("jobs_runtime", JobsRuntime)
    if runtime.orchestrator is not None:
        snapshots = wiring.typed("snapshots", SnapshotService)
        secrets = wiring.access.secrets

        def sources_for(ctx: RequestContext) -> ServerSources:
            return ServerSources(ctx, wiring.database, wiring.store, snapshots, secrets)

        runner = MonitorRunner(
            wiring.database,
            wiring.typed("artifacts", ArtifactService),
            sources_for,
            smtp_url=wiring.settings.smtp_url,
            mail_from=wiring.settings.mail_from,
        )
        runtime.orchestrator.provide(runner)
        wiring.on_start(lambda: None, runner.close)
    return MonitorService(wiring.database, wiring.typed("schedules", ScheduleService), jobs)
