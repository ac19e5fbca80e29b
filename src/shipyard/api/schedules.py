"""Schedules and their firings, as ``/api/v1/schedules`` answers them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from shipyard.api._config import ANSWER_CONFIG

__all__ = ["Firing", "Schedule", "ScheduleDetails", "SchedulePage"]


@dataclass(frozen=True, slots=True)
class Schedule:
    """A job file fired on a cron or recurrence trigger, as its creator."""

    __pydantic_config__: ClassVar[dict[str, Any]] = ANSWER_CONFIG

    name: str
    display_name: str
    description: str
    tags: dict[str, str]
    trigger: dict[str, Any]
    """type (cron|recurrence), time_zone (IANA), start_at, end_at (UTC ms), expression or
    frequency, interval, hours, minutes, week_days, month_days."""
    catch_up: bool
    """Whether ticks missed while no server ran fire (the newest 10) when one comes back."""
    enabled: bool
    job_type: str
    """command, sweep, pipeline…"""
    job: dict[str, Any]
    """The job file's mapping as the schedule submits it at every tick."""
    created_at: int
    created_by: str
    """Whom its jobs run as."""
    updated_at: int


@dataclass(frozen=True, slots=True)
class Firing:
    """One tick handled: fired (with its job), failed (with why), claimed (being fired), or a
    range of ticks missed while no server ran."""

    __pydantic_config__: ClassVar[dict[str, Any]] = ANSWER_CONFIG

    tick_at: int
    """The tick (UTC ms); for a missed range, its oldest tick."""
    status: str
    """fired, failed, claimed or missed."""
    at: int
    """When the firing was last recorded."""
    job_name: str | None = None
    message: str = ""
    node: str = ""
    """The server that fired it."""
    caught_up: bool = False
    last_tick_at: int | None = None
    """A missed range's newest tick."""
    missed_count: int = 0


@dataclass(frozen=True, slots=True)
class ScheduleDetails:
    """``schedule show``: the schedule, its next ticks and its newest firings."""

    __pydantic_config__: ClassVar[dict[str, Any]] = ANSWER_CONFIG

    schedule: Schedule
    next_ticks: list[int] = field(default_factory=list)
    """The next ticks it fires at (UTC ms); empty when disabled or ended."""
    firings: list[Firing] = field(default_factory=list)
    """Newest first."""


@dataclass(frozen=True, slots=True)
class SchedulePage:
    __pydantic_config__: ClassVar[dict[str, Any]] = ANSWER_CONFIG

    schedules: list[Schedule]
