"""Monitors as users see them: ``monitor run`` (now, not at the next tick), ``monitor show``
(each signal's values over time with its thresholds and breaches), ``monitor list``.

A monitor is a schedule whose job is of type ``monitor`` (``schedule create -f monitor.yml``);
each of its runs is a job with a run. This service reads both; it keeps nothing of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shipyard.domain.context import RequestContext
from shipyard.domain.jobs import Job
from shipyard.domain.schedules import Schedule
from shipyard.errors import InvalidArgument
from shipyard.services._clock import now_ms
from shipyard.services.job_requests import job_request, submit_job, with_name_and_tags
from shipyard.services.jobs import JobService
from shipyard.services.ports import Database
from shipyard.services.schedules import ScheduleService

__all__ = ["MonitorService", "MonitorView"]

MONITOR = "monitor"
_SCAN = 2000  # newest monitor jobs of the workspace looked through for one monitor's runs


@dataclass(frozen=True)
class MonitorView:
    schedule: Schedule
    runs: list[Job] = field(default_factory=list)
    """Newest first."""


class MonitorService:
    def __init__(self, db: Database, schedules: ScheduleService, jobs: JobService) -> None:
        self.db = db
        self.schedules = schedules
        self.jobs = jobs

    def _monitor(self, ctx: RequestContext, name: str) -> Schedule:
        schedule = self.schedules.get(ctx, name)
        if schedule.job_type != MONITOR:
            raise InvalidArgument(
                f"schedule {name!r} fires a {schedule.job_type} job, not a monitor;"
                " `shipyard monitor list` shows the monitors",
                name=name,
            )
        return schedule

    def list(self, ctx: RequestContext) -> list[Schedule]:
        return [s for s in self.schedules.list(ctx) if s.job_type == MONITOR]

    def run(self, ctx: RequestContext, name: str) -> Job:
        """Submit the monitor's job now, as the caller (who needs jobs:create)."""
        schedule = self._monitor(ctx, name)
        stamp = now_ms()
        body = with_name_and_tags(
            schedule.job,
            f"{name}-now-{stamp}",
            {"shipyard.schedule": name, "shipyard.monitor.trigger": "on demand"},
        )
        return submit_job(ctx, job_request(body), self.jobs)

    def show(self, ctx: RequestContext, name: str, *, runs: int = 20) -> MonitorView:
        schedule = self._monitor(ctx, name)
        with self.db.read() as uow:
            found = uow.jobs.list(ctx.workspace, None, 0, _SCAN, type_=MONITOR)
        mine = [j for j in found if j.type == MONITOR and j.spec.get("monitor_name") == name]
        return MonitorView(schedule=schedule, runs=mine[:runs])
