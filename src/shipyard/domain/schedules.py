"""Schedules: a job file fired on a cron or recurrence trigger, and the record of every tick.

A schedule keeps a *cursor*: the newest tick already handled. On each pass the firing loop
asks :func:`plan` what to do with the ticks after it — fire the ones that are due now, and
report the ones whose time passed while no server was running (a *missed* range), or fire
the newest few of those too when the schedule says ``catch_up: true``. The plan is pure: the
loop passes *now* in, so tests drive it with a fake clock.

Every tick handled leaves a :class:`Firing`: ``fired`` (with its job), ``failed`` (with the
reason: the creator was disabled, the job file no longer checks out…), ``claimed`` (a server
took it and is creating its job) or ``missed`` (one record per range of missed ticks).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from shipyard.domain.schedule_ticks import Trigger, tick_at_or_before, ticks_after, ticks_before

__all__ = [
    "CATCH_UP_MAX",
    "MISSED_COUNT_CAP",
    "Firing",
    "FiringStatus",
    "Plan",
    "Schedule",
    "fired_job_name",
    "next_ticks",
    "plan",
]

CATCH_UP_MAX = 10
"""``catch_up: true`` fires at most this many missed ticks — the newest — when a server comes
back; older ones are reported as missed. Ten keeps a schedule that fires every minute from
flooding the queue with a night's worth of jobs after an outage."""

MISSED_COUNT_CAP = 10_000
"""Missed ticks are counted up to this many (a seconds cron down for a week has 600,000);
beyond it ``schedule show`` says "at least"."""

FiringStatus = Literal["claimed", "fired", "failed", "missed"]


@dataclass(frozen=True, slots=True)
class Schedule:
    """``job`` is the job-create body the client prepared when the schedule was made (the job
    file's mapping, the digests of its uploaded code and local inputs, its inline environment):
    each firing submits it again, so every job a schedule fires runs the same code."""

    name: str
    workspace: str
    display_name: str
    description: str
    tags: dict[str, str]
    trigger: Trigger
    catch_up: bool
    enabled: bool
    job: dict[str, Any]
    job_type: str
    created_at: int
    created_by: str
    updated_at: int
    cursor: int
    """The newest tick handled (fired, failed or reported missed); ticks after it are due."""


@dataclass(frozen=True, slots=True)
class Firing:
    schedule: str
    tick_at: int
    status: FiringStatus
    at: int
    """When this record was last written (claimed, fired, failed)."""
    job_name: str | None = None
    message: str = ""
    node: str = ""
    caught_up: bool = False
    """A missed tick fired late because the schedule catches up."""
    last_tick_at: int | None = None
    """A missed range's newest tick (``tick_at`` is its oldest)."""
    missed_count: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def late_ms(self) -> int:
        return max(0, self.at - self.tick_at)


@dataclass(frozen=True, slots=True)
class Plan:
    """What a pass does with a schedule's due ticks."""

    fire: tuple[int, ...] = ()
    """Ticks to fire now, oldest first."""
    caught_up: frozenset[int] = frozenset()
    """Those of ``fire`` that were missed and fire only because the schedule catches up."""
    missed: tuple[int, int, int] | None = None
    """(oldest, newest, count) of the ticks reported missed; count stops at MISSED_COUNT_CAP."""
    cursor: int | None = None
    """The schedule's new cursor; None: nothing was due."""


def plan(trigger: Trigger, cursor: int, now: int, *, late_limit_ms: int, catch_up: bool) -> Plan:
    """The ticks after ``cursor`` up to ``now``: those at most ``late_limit_ms`` old fire;
    older ones were missed while no server ran — reported, or (``catch_up``) the newest
    :data:`CATCH_UP_MAX` of them fired and the rest reported."""
    boundary = now - late_limit_ms
    on_time = _until(ticks_after(trigger, max(cursor, boundary)), now)
    newest_missed = tick_at_or_before(trigger, boundary) if cursor < boundary else None
    if newest_missed is None or newest_missed <= cursor:
        if not on_time:
            return Plan()
        return Plan(fire=tuple(on_time), cursor=on_time[-1])
    caught: list[int] = []
    if catch_up:
        for tick in ticks_before(trigger, boundary + 1):
            if tick <= cursor or len(caught) == CATCH_UP_MAX:
                break
            caught.append(tick)
        caught.reverse()
    missed: tuple[int, int, int] | None = None
    oldest = next(ticks_after(trigger, cursor))
    if not caught or oldest < caught[0]:
        newest = newest_missed if not caught else next(ticks_before(trigger, caught[0]))
        count = _count(trigger, cursor, newest)
        missed = (oldest, newest, count)
    return Plan(
        fire=tuple(caught + on_time),
        caught_up=frozenset(caught),
        missed=missed,
        cursor=on_time[-1] if on_time else newest_missed,
    )


def _until(ticks: Iterator[int], end: int) -> list[int]:
    out: list[int] = []
    for tick in ticks:
        if tick > end:
            break
        out.append(tick)
    return out


def _count(trigger: Trigger, after: int, newest: int) -> int:
    count = 0
    for tick in ticks_after(trigger, after):
        if tick > newest or count == MISSED_COUNT_CAP:
            break
        count += 1
    return count


def next_ticks(trigger: Trigger, after: int, n: int) -> list[int]:
    """The next ``n`` ticks after ``after`` (fewer when the trigger ends)."""
    out: list[int] = []
    for tick in ticks_after(trigger, after):
        if len(out) == n:
            break
        out.append(tick)
    return out


def fired_job_name(schedule: str, tick_at: int) -> str:
    """The job a tick fires: ``<schedule>-<UTC time of the tick>``. Fixed by the tick, so a
    second attempt at the same tick (a server taking over a firing its dead peer claimed)
    finds the job the first made instead of making another: job names are unique."""
    stamp = datetime.fromtimestamp(tick_at / 1000, tz=UTC).strftime("%Y%m%d-%H%M%S")
    return f"{schedule}-{stamp}"
