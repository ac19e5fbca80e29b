"""Schedules: the service, and on servers with the ``jobs`` role the firing loop."""

from __future__ import annotations

from shipyard.server.jobs_runtime import node_of
from shipyard.server.wiring import Wiring
from shipyard.services.jobs import JobService
from shipyard.services.schedule_firing import ScheduleFirer
from shipyard.services.schedules import ScheduleService

__all__ = ["schedules"]

# SQLite has no NOTIFY and ticks are seconds apart at the finest: a pass every half second
# fires a tick within that of its time, for the price of one indexed read.
_POLL_S = 0.5


def schedules(wiring: Wiring) -> ScheduleService:
    jobs = wiring.typed("jobs", JobService)
    service = ScheduleService(wiring.database, jobs)
    if wiring.settings.has_role("jobs"):
        firer = ScheduleFirer(
            wiring.database,
            jobs,
            wiring.access.credentials.acting_as,
            node_of(wiring.settings.home).label,
            poll_s=_POLL_S,
        )
        wiring.on_start(firer.start, firer.stop)
    return service
