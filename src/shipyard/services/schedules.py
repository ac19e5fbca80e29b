"""Schedules: create (the job checked whole first), list, show, enable, disable, delete.

The job a schedule fires is checked as its creator when the schedule is made (its compute,
environment, data…), and fired as its creator at every tick by the
:class:`~shipyard.services.schedule_firing.ScheduleFirer` of the servers with the ``jobs``
role; ``show`` tells the next ticks, the last firings with their jobs, and the ticks missed
while no server ran.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shipyard.domain.context import RequestContext
from shipyard.domain.schedules import Firing, Schedule, next_ticks
from shipyard.domain.validation import check_name
from shipyard.errors import InvalidArgument, NotFound, PermissionDenied
from shipyard.services._clock import now_ms
from shipyard.services.job_requests import check_job, job_request, job_type
from shipyard.services.jobs import JobService
from shipyard.services.ports import Database
from shipyard.services.schedule_ports import SCHEDULES
from shipyard.services.tracking import TrackingService
from shipyard.specs._yaml import validate_spec
from shipyard.specs.schedule import ScheduleFields, trigger_of

__all__ = ["ScheduleService", "ScheduleView"]

SHOWN_FIRINGS = 20
NEXT_TICKS = 5


@dataclass(frozen=True, slots=True)
class ScheduleView:
    """``schedule show``: the schedule, its next ticks and its newest firings (missed ranges among them)."""

    schedule: Schedule
    next_ticks: list[int]
    firings: list[Firing]


class ScheduleService:
    def __init__(self, db: Database, jobs: JobService) -> None:
        self.db = db
        self.jobs = jobs

    def create(
        self,
        ctx: RequestContext,
        fields: Mapping[str, Any],
        job: Mapping[str, Any],
        source: str = "schedule.yml",
    ) -> Schedule:
        """A schedule of ``job`` (a job-create body, its uploads done) on the trigger of
        ``fields`` (the schedule file but its ``create_job``). The job is checked as the
        caller, who must be allowed to submit it: each firing submits it as them."""
        spec = validate_spec(fields, ScheduleFields, source)
        if not ctx.may("jobs:create"):
            raise PermissionDenied(
                f"a schedule submits its job as its creator: {ctx.principal.name!r} needs jobs:create"
                f" in workspace {ctx.workspace!r}"
            )
        display = spec.display_name or spec.name
        check_name("display_name", display)
        TrackingService._check_tags(dict(spec.tags))
        request = job_request(job)
        check_job(ctx, request, self.jobs)
        now = now_ms()
        trigger = trigger_of(spec.trigger, now)
        # A recurrence without start_time fires at its creation first (its anchor), as in
        # Azure ML; other ticks come after the creation (a start_time in the past is not replayed).
        cursor = trigger.anchor_at - 1 if trigger.type == "recurrence" and trigger.start_at is None else now
        schedule = Schedule(
            name=spec.name,
            workspace=ctx.workspace,
            display_name=display,
            description=spec.description or "",
            tags=dict(spec.tags),
            trigger=trigger,
            catch_up=spec.catch_up,
            enabled=True,
            job=dict(job),
            job_type=job_type(request),
            created_at=now,
            created_by=ctx.principal.name,
            updated_at=now,
            cursor=cursor,
        )
        with self.db.write() as uow:
            ws = uow.workspaces.ensure(ctx.workspace, ctx.principal.name, now)
            uow[SCHEDULES].create(ws, schedule)
        return self.get(ctx, spec.name)

    def get(self, ctx: RequestContext, name: str) -> Schedule:
        with self.db.read() as uow:
            found = uow[SCHEDULES].get(ctx.workspace, name)
        if found is None:
            raise NotFound(
                f"no schedule named {name!r} in workspace {ctx.workspace!r} (`shipyard schedule list`"
                " shows them)",
                name=name,
            )
        return found

    def list(self, ctx: RequestContext) -> list[Schedule]:
        with self.db.read() as uow:
            return uow[SCHEDULES].list(ctx.workspace)

    def show(self, ctx: RequestContext, name: str, *, firings: int = SHOWN_FIRINGS) -> ScheduleView:
        if not 1 <= firings <= 1000:
            raise InvalidArgument("firings must be between 1 and 1000")
        schedule = self.get(ctx, name)
        with self.db.read() as uow:
            recent = uow[SCHEDULES].firings(ctx.workspace, name, firings)
        upcoming = (
            next_ticks(schedule.trigger, max(schedule.cursor, now_ms()), NEXT_TICKS)
            if schedule.enabled
            else []
        )
        return ScheduleView(schedule, upcoming, recent)

    def enable(self, ctx: RequestContext, name: str) -> Schedule:
        """Fire again from now on: ticks while it was disabled are neither fired nor missed."""
        schedule = self.get(ctx, name)
        if not schedule.enabled:
            now = now_ms()
            with self.db.write() as uow:
                uow[SCHEDULES].set_enabled(ctx.workspace, name, True, now, now)
        return self.get(ctx, name)

    def disable(self, ctx: RequestContext, name: str) -> Schedule:
        self.get(ctx, name)
        with self.db.write() as uow:
            uow[SCHEDULES].set_enabled(ctx.workspace, name, False, None, now_ms())
        return self.get(ctx, name)

    def delete(self, ctx: RequestContext, name: str) -> None:
        """The schedule and its record of firings; the jobs it fired stay."""
        with self.db.write() as uow:
            if not uow[SCHEDULES].delete(ctx.workspace, name):
                raise NotFound(f"no schedule named {name!r} in workspace {ctx.workspace!r}", name=name)
