"""The firing loop on a real store (SQLite, then PostgreSQL), with a fake clock and a job
service that records what it is asked to create: each tick fires once — also with two firers
racing —, missed ticks are reported, catch_up fires the newest, a dead firer's claim is taken
over without a second job, and a disabled creator's tick fails with the reason."""

from __future__ import annotations

import threading
from typing import Any, cast

import pytest

from shipyard.domain.access import EVERYTHING, NOTHING
from shipyard.domain.context import Principal, RequestContext
from shipyard.domain.schedules import CATCH_UP_MAX
from shipyard.errors import AlreadyExists, NotFound
from shipyard.services.jobs import JobService, JobSubmission
from shipyard.services.schedule_firing import ScheduleFirer
from shipyard.services.schedules import ScheduleService
from shipyard.stores.sql.database import SqlDatabase

CTX = RequestContext(Principal("alice", authenticated=True, grants=EVERYTHING), "default")
T0 = 1_767_225_600_000  # 2026-01-01 00:00:00 UTC
S = 1000


class FakeJobs:
    """What the firer needs of JobService: create (names are unique, as in the store), get, check."""

    def __init__(self) -> None:
        self.created: list[JobSubmission] = []
        self._lock = threading.Lock()

    def check(self, ctx: RequestContext, sub: JobSubmission) -> None:
        pass

    def create(self, ctx: RequestContext, sub: JobSubmission) -> Any:
        with self._lock:
            if any(c.name == sub.name for c in self.created):
                raise AlreadyExists(f"a job named {sub.name!r} already exists")
            self.created.append(sub)
        return self.get(ctx, str(sub.name))

    def get(self, ctx: RequestContext, name: str) -> Any:
        if not any(c.name == name for c in self.created):
            raise NotFound(name)
        return type("J", (), {"name": name})()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


def make(
    db: SqlDatabase, clock: Clock, jobs: FakeJobs, node: str = "a", grants: Any = EVERYTHING
) -> ScheduleFirer:
    return ScheduleFirer(
        db, cast(JobService, jobs), lambda user, ws: Principal(user, kind="job", grants=grants), node,
        late_limit_s=60, claim_timeout_s=60, clock=clock,
    )  # fmt: skip


def schedule(
    db: SqlDatabase, jobs: FakeJobs, monkeypatch: pytest.MonkeyPatch, **extra: Any
) -> ScheduleService:
    service = ScheduleService(db, cast(JobService, jobs))
    monkeypatch.setattr("shipyard.services.schedules.now_ms", lambda: T0)
    fields = {"name": "every10", "trigger": {"type": "cron", "expression": "*/10 * * * * *"}, **extra}
    service.create(CTX, fields, {"spec": {"command": "echo hi", "tags": {"mine": "1"}}, "source": "s.yml"})
    return service


def test_each_tick_fires_once_with_the_schedule_tags(
    db: SqlDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs, clock = FakeJobs(), Clock()
    service = schedule(db, jobs, monkeypatch)
    firer = make(db, clock, jobs)
    clock.now = T0 + 10 * S + 300
    assert [f.status for f in firer.run_once()] == ["fired"]
    assert firer.run_once() == []  # the same moment again: nothing more
    clock.now = T0 + 20 * S + 100
    firer.run_once()
    assert [j.name for j in jobs.created] == ["every10-20260101-000010", "every10-20260101-000020"]
    assert jobs.created[0].tags == {
        "mine": "1", "shipyard.schedule.name": "every10", "shipyard.schedule.tick": "2026-01-01T00:00:10+00:00",
    }  # fmt: skip
    view = service.show(CTX, "every10")
    assert [(f.status, f.job_name) for f in view.firings] == [
        ("fired", "every10-20260101-000020"), ("fired", "every10-20260101-000010"),
    ]  # fmt: skip
    assert view.next_ticks[0] == T0 + 30 * S


def test_two_firers_racing_fire_each_tick_once(db: SqlDatabase, monkeypatch: pytest.MonkeyPatch) -> None:
    jobs, clock = FakeJobs(), Clock()
    schedule(db, jobs, monkeypatch)
    other = SqlDatabase(str(db.engine.url.render_as_string(hide_password=False)))
    firers = [make(db, clock, jobs, "a"), make(other, clock, jobs, "b")]
    try:
        for second in range(10, 200, 10):
            clock.now = T0 + second * S + 50
            barrier = threading.Barrier(2)

            def run(firer: ScheduleFirer, barrier: threading.Barrier = barrier) -> None:
                barrier.wait()
                firer.run_once()

            threads = [threading.Thread(target=run, args=(f,)) for f in firers]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    finally:
        other.close()
    names = [j.name for j in jobs.created]
    assert len(names) == 19 and len(set(names)) == 19


def test_missed_ticks_are_reported_not_fired(db: SqlDatabase, monkeypatch: pytest.MonkeyPatch) -> None:
    jobs, clock = FakeJobs(), Clock()
    service = schedule(db, jobs, monkeypatch)
    clock.now = T0 + 600 * S + 200  # no server for 10 minutes
    make(db, clock, jobs).run_once()
    assert len(jobs.created) == 6  # the last minute's ticks (60 s late at most) fire late
    missed = [f for f in service.show(CTX, "every10").firings if f.status == "missed"]
    assert [(m.tick_at, m.last_tick_at, m.missed_count) for m in missed] == [(T0 + 10 * S, T0 + 540 * S, 54)]
    assert "not fired (catch_up: false)" in missed[0].message


def test_catch_up_fires_the_newest_missed_ticks(db: SqlDatabase, monkeypatch: pytest.MonkeyPatch) -> None:
    jobs, clock = FakeJobs(), Clock()
    service = schedule(db, jobs, monkeypatch, catch_up=True)
    clock.now = T0 + 3600 * S + 200
    make(db, clock, jobs).run_once()
    firings = service.show(CTX, "every10", firings=100).firings
    caught = [f for f in firings if f.caught_up]
    assert len(caught) == CATCH_UP_MAX and all(f.status == "fired" for f in caught)
    missed = [f for f in firings if f.status == "missed"]
    assert len(missed) == 1 and missed[0].missed_count == 360 - 6 - CATCH_UP_MAX


def test_a_dead_firers_claim_is_taken_over_without_a_second_job(
    db: SqlDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs, clock = FakeJobs(), Clock()
    service = schedule(db, jobs, monkeypatch)
    dead = make(db, clock, jobs, "dead")
    # The dead server created the job, then died before recording it.
    monkeypatch.setattr(dead, "_finish", lambda *a, **k: None)
    clock.now = T0 + 10 * S + 100
    dead.run_once()
    assert [f.status for f in service.show(CTX, "every10").firings] == ["claimed"]
    clock.now += 61 * S
    survivor = make(db, clock, jobs, "alive")
    survivor._passes = 0  # its next pass looks for stale claims
    survivor.run_once()
    tick = next(f for f in service.show(CTX, "every10", firings=100).firings if f.tick_at == T0 + 10 * S)
    assert (tick.status, tick.node, tick.job_name) == ("fired", "alive", "every10-20260101-000010")
    assert len([j for j in jobs.created if j.name == "every10-20260101-000010"]) == 1


def test_a_creator_who_may_no_longer_submit_jobs_gets_a_failed_firing(
    db: SqlDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs, clock = FakeJobs(), Clock()
    service = schedule(db, jobs, monkeypatch)
    clock.now = T0 + 10 * S
    make(db, clock, jobs, grants=NOTHING).run_once()
    [firing] = service.show(CTX, "every10").firings
    assert firing.status == "failed" and "creator 'alice', who may no longer submit jobs" in firing.message
    assert jobs.created == []


def test_disabled_schedules_do_not_fire_and_enabling_does_not_replay(
    db: SqlDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs, clock = FakeJobs(), Clock()
    service = schedule(db, jobs, monkeypatch)
    service.disable(CTX, "every10")
    clock.now = T0 + 100 * S
    firer = make(db, clock, jobs)
    assert firer.run_once() == []
    monkeypatch.setattr("shipyard.services.schedules.now_ms", lambda: clock.now)
    service.enable(CTX, "every10")
    clock.now = T0 + 110 * S
    assert [f.tick_at for f in firer.run_once()] == [T0 + 110 * S]
    assert not [f for f in service.show(CTX, "every10").firings if f.status == "missed"]
