"""The repository of schedules and their firings (``stores/sql/schedules.py``).

Reached as ``uow[SCHEDULES]``, so that a pass of the firing loop advances a schedule's cursor
and records the ticks it takes in one transaction (:meth:`ScheduleRepository.advance` is a
compare-and-set: of two servers planning the same ticks, one wins and the other writes nothing).
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod

from shipyard.domain.schedules import Firing, FiringStatus, Schedule
from shipyard.services.ports import RepositoryKey

__all__ = ["SCHEDULES", "ScheduleRepository"]


class ScheduleRepository(ABC):
    @abstractmethod
    def create(self, workspace_id: int, schedule: Schedule) -> None:
        """Raise AlreadyExists when the name is taken in the workspace."""

    @abstractmethod
    def get(self, workspace: str, name: str) -> Schedule | None: ...

    @abstractmethod
    def list(self, workspace: str) -> builtins.list[Schedule]:
        """By name."""

    @abstractmethod
    def enabled(self) -> builtins.list[Schedule]:
        """Every enabled schedule of every workspace (what the firing loop looks at)."""

    @abstractmethod
    def set_enabled(self, workspace: str, name: str, enabled: bool, cursor: int | None, now: int) -> bool:
        """``cursor``: where firing resumes (None: unchanged); False when there is no such schedule."""

    @abstractmethod
    def delete(self, workspace: str, name: str) -> bool:
        """Remove the schedule and its firings (the jobs it fired stay)."""

    @abstractmethod
    def advance(self, workspace: str, name: str, old: int, new: int) -> bool:
        """Move the cursor from ``old`` to ``new``; False (and nothing written) when it is no
        longer at ``old`` — another server handled those ticks — or the schedule is gone or disabled."""

    @abstractmethod
    def add_firing(self, workspace: str, firing: Firing) -> None:
        """Raise AlreadyExists when the schedule has a firing for that tick (the unique index
        on (schedule, tick) settles a race the cursor did not)."""

    @abstractmethod
    def finish_firing(
        self, workspace: str, name: str, tick_at: int, node: str, status: FiringStatus,
        job_name: str | None, message: str, now: int,
    ) -> bool:  # fmt: skip
        """Record how a claimed firing ended, if ``node`` still holds the claim."""

    @abstractmethod
    def stale_claims(self, claimed_before: int) -> builtins.list[tuple[str, Firing]]:
        """(workspace, firing) of firings still ``claimed`` since before ``claimed_before``:
        their server died between claiming a tick and recording its job."""

    @abstractmethod
    def retake(self, workspace: str, name: str, tick_at: int, old_at: int, node: str, now: int) -> bool:
        """Take over a stale claim (if no other server did first)."""

    @abstractmethod
    def firings(self, workspace: str, name: str, limit: int) -> builtins.list[Firing]:
        """The schedule's newest firings first."""


SCHEDULES: RepositoryKey[ScheduleRepository] = RepositoryKey("schedules")
