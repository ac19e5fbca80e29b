"""The firing loop: a thread on every server with the ``jobs`` role that submits schedules' jobs.

Each pass reads the enabled schedules and, for each, asks :func:`~shipyard.domain.schedules.plan`
what its ticks since the cursor call for. Then, in one transaction, it moves the cursor (a
compare-and-set) and records a ``claimed`` firing per tick it will fire and a ``missed`` one
for a range of ticks that passed while no server ran. Only the server whose compare-and-set
won submits the jobs (``stores/sql/schedules.py`` explains why two cannot both win, and the
unique (schedule, tick) index backs it).

A server may die between claiming a tick and recording its job. Its claim goes stale, and
the next server to notice (after :data:`CLAIM_TIMEOUT_S`) retakes it — with a compare-and-set
too — and submits the job under the same name (:func:`~shipyard.domain.schedules.fired_job_name`):
if the dead server had created it, the name is taken, and the firing records that job. So a
tick makes at most one job, and a claimed tick is not lost.

The job runs as the schedule's creator, with their rights at the time of the tick: a creator
disabled since (or whose role no longer allows ``jobs:create``) gets a ``failed`` firing
saying so, shown by ``schedule show``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from shipyard.domain.context import Principal, RequestContext
from shipyard.domain.schedules import Firing, FiringStatus, Schedule, fired_job_name, plan
from shipyard.errors import AlreadyExists, ShipyardError
from shipyard.services._clock import now_ms
from shipyard.services.job_requests import job_request, submit_job, with_name_and_tags
from shipyard.services.jobs import JobService
from shipyard.services.ports import Database
from shipyard.services.schedule_ports import SCHEDULES

__all__ = ["CLAIM_TIMEOUT_S", "LATE_LIMIT_S", "ScheduleFirer"]

log = logging.getLogger("shipyard.schedules")

LATE_LIMIT_S = 60.0
"""A tick fires if a server sees it at most this late; an older one was missed while no server
ran (a restart shorter than this loses nothing)."""
CLAIM_TIMEOUT_S = 60.0
"""A firing claimed this long ago without its job recorded belongs to a dead server."""
_RECOVER_EVERY = 10  # passes between looks for stale claims

ActingAs = Callable[[str, str], Principal]
"""(user, workspace) → the user as the server acts for them now (their grants at this moment)."""


class ScheduleFirer:
    def __init__(
        self,
        db: Database,
        jobs: JobService,
        acting_as: ActingAs,
        node: str,
        *,
        poll_s: float = 0.5,
        late_limit_s: float = LATE_LIMIT_S,
        claim_timeout_s: float = CLAIM_TIMEOUT_S,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.db = db
        self.jobs = jobs
        self.acting_as = acting_as
        self.node = node
        self.poll_s = poll_s
        self.late_limit_ms = int(late_limit_s * 1000)
        self.claim_timeout_ms = int(claim_timeout_s * 1000)
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._passes = 0

    # -- the thread ------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="shipyard-schedules", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a pass must never end the loop: the next one retries
                log.exception("schedules: a firing pass failed")
            self._stop.wait(self.poll_s)

    # -- one pass ----------------------------------------------------------------------------

    def run_once(self) -> list[Firing]:
        """Fire what is due now; the firings this pass recorded (for tests and logs)."""
        self._passes += 1
        done: list[Firing] = []
        if self._passes % _RECOVER_EVERY == 1:
            done.extend(self._recover())
        with self.db.read() as uow:
            schedules = uow[SCHEDULES].enabled()
        for schedule in schedules:
            done.extend(self._pass(schedule))
        return done

    def _pass(self, schedule: Schedule) -> list[Firing]:
        now = self.clock()
        step = plan(
            schedule.trigger,
            schedule.cursor,
            now,
            late_limit_ms=self.late_limit_ms,
            catch_up=schedule.catch_up,
        )
        if step.cursor is None:
            return []
        claims = [
            Firing(schedule.name, tick, "claimed", now, node=self.node, caught_up=tick in step.caught_up)
            for tick in step.fire
        ]
        missed = None
        if step.missed is not None:
            oldest, newest, count = step.missed
            missed = Firing(
                schedule.name, oldest, "missed", now, node=self.node, last_tick_at=newest, missed_count=count,
                message=_missed_message(count, schedule.catch_up),
            )  # fmt: skip
        try:
            with self.db.write() as uow:
                repo = uow[SCHEDULES]
                if not repo.advance(schedule.workspace, schedule.name, schedule.cursor, step.cursor):
                    return []  # another server took these ticks
                for firing in [*([missed] if missed else []), *claims]:
                    repo.add_firing(schedule.workspace, firing)
        except AlreadyExists:
            return []  # the unique (schedule, tick) index: another server recorded one of them
        if missed is not None:
            log.warning("schedule %s: %s", schedule.name, missed.message)
        return [*([missed] if missed else []), *(self._fire(schedule, claim) for claim in claims)]

    def _fire(self, schedule: Schedule, claim: Firing) -> Firing:
        """Submit the tick's job as the schedule's creator and record how it went."""
        name = fired_job_name(schedule.name, claim.tick_at)
        principal = self.acting_as(schedule.created_by, schedule.workspace)
        ctx = RequestContext(principal, schedule.workspace)
        if not ctx.may("jobs:create"):
            return self._finish(
                schedule, claim, "failed", None,
                f"not fired: the schedule fires as its creator {schedule.created_by!r}, who may no"
                f" longer submit jobs in workspace {schedule.workspace!r} (disabled, removed, or"
                " their role changed); re-create the schedule as a user who may",
            )  # fmt: skip
        tags = {
            "shipyard.schedule.name": schedule.name,
            "shipyard.schedule.tick": datetime.fromtimestamp(claim.tick_at / 1000, tz=UTC).isoformat(),
        }
        request = job_request(with_name_and_tags(schedule.job, name, tags))
        try:
            job = submit_job(ctx, request, self.jobs)
        except AlreadyExists:
            # A server that died after creating the job and before recording it: same tick,
            # same name; the job is the one this tick made.
            job = self.jobs.get(ctx, name)
        except ShipyardError as exc:
            return self._finish(schedule, claim, "failed", None, f"not fired: {exc.message}")
        except Exception as exc:  # our bug, not the user's: said on the firing, traceback in the log
            log.exception("schedule %s: firing tick %s failed", schedule.name, claim.tick_at)
            return self._finish(
                schedule,
                claim,
                "failed",
                None,
                f"not fired: {type(exc).__name__}: {exc} (a bug: see the server log)",
            )
        late = max(0, self.clock() - claim.tick_at) / 1000
        note = "caught up" if claim.caught_up else f"{late:.1f} s after its tick"
        return self._finish(schedule, claim, "fired", job.name, f"fired {job.name} ({note})")

    def _finish(
        self, schedule: Schedule, claim: Firing, status: FiringStatus, job: str | None, message: str
    ) -> Firing:
        now = self.clock()
        with self.db.write() as uow:
            uow[SCHEDULES].finish_firing(
                schedule.workspace, schedule.name, claim.tick_at, self.node, status, job, message, now
            )
        return Firing(
            schedule.name, claim.tick_at, status, now, job_name=job, message=message,
            node=self.node, caught_up=claim.caught_up,
        )  # fmt: skip

    def _recover(self) -> list[Firing]:
        """Fire the ticks claimed by servers that died before recording their job."""
        now = self.clock()
        with self.db.read() as uow:
            stale = uow[SCHEDULES].stale_claims(now - self.claim_timeout_ms)
        done: list[Firing] = []
        for workspace, firing in stale:
            with self.db.write() as uow:
                repo = uow[SCHEDULES]
                schedule = repo.get(workspace, firing.schedule)
                taken = schedule is not None and repo.retake(
                    workspace, firing.schedule, firing.tick_at, firing.at, self.node, now
                )
            if schedule is not None and taken:
                log.warning(
                    "schedule %s: taking over tick %s from %s", schedule.name, firing.tick_at, firing.node
                )
                claim = Firing(
                    schedule.name, firing.tick_at, "claimed", now, node=self.node, caught_up=firing.caught_up
                )
                done.append(self._fire(schedule, claim))
        return done


def _missed_message(count: int, catch_up: bool) -> str:
    many = "at least " if count >= 10_000 else ""
    what = f"{many}{count} tick{'s' if count != 1 else ''} passed while no server with the jobs role ran"
    if catch_up:
        return f"{what}; older than the newest ones caught up, so not fired"
    return f"{what}; not fired (catch_up: false)"
