"""Repositories of the "develop" stage: environments, compute targets and jobs.

Implemented by ``stores/sql/jobs.py``; reached through a unit of work (``uow.jobs``,
``uow.environments``, ``uow.computes``) so a job, its run and its first events are written in
one transaction.

Several servers share one queue. A server's job runner takes a job with a **lease**: the job
row names the runner's node (``lease_owner``) and a time the lease lapses unless renewed
(``lease_expires_at``, epoch ms). Claims skip rows another server is claiming at that moment
(``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite has one writer at a time), and a
runner writes a job's transitions only while it holds the lease (:meth:`JobRepository.lock`
fences them), so a job is run by one server at a time.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from shipyard.domain.jobs import Compute, Environment, Job, JobFailure, JobStatus

__all__ = [
    "ComputeRepository",
    "EnvironmentRepository",
    "JobControl",
    "JobRepository",
    "LogChunkRef",
    "LogChunkRepository",
    "WakeUps",
]


class EnvironmentRepository(ABC):
    @abstractmethod
    def create(self, workspace_id: int, env: Environment) -> None:
        """Raise AlreadyExists when the name and version are taken (versions are immutable)."""

    @abstractmethod
    def get(self, workspace: str, name: str, version: str) -> Environment | None: ...

    @abstractmethod
    def latest(self, workspace: str, name: str) -> Environment | None:
        """The most recently created version."""

    @abstractmethod
    def list(self, workspace: str, name: str | None = None) -> list[Environment]:
        """Every version of ``name``, or the latest version of every name."""


class ComputeRepository(ABC):
    @abstractmethod
    def create(self, workspace_id: int, compute: Compute) -> None:
        """Raise AlreadyExists when the name is taken."""

    @abstractmethod
    def get(self, workspace: str, name: str) -> Compute | None: ...

    @abstractmethod
    def list(self, workspace: str) -> list[Compute]: ...

    @abstractmethod
    def delete(self, workspace: str, name: str) -> bool: ...


class JobRepository(ABC):
    @abstractmethod
    def create(self, workspace_id: int, experiment_pk: int, job: Job) -> None:
        """Insert the job with its events; AlreadyExists when the name is taken."""

    @abstractmethod
    def get(self, workspace: str, name: str) -> Job | None:
        """The job with its status events, oldest first."""

    @abstractmethod
    def list(
        self,
        workspace: str,
        statuses: Collection[JobStatus] | None,
        offset: int,
        limit: int,
        parent: str | None = None,
        type_: str | None = None,
    ) -> list[Job]:
        """Newest first; without events. Top-level jobs, or the children of ``parent``; only
        those of ``type_`` when given (a monitor's runs among every job)."""

    @abstractmethod
    def mentioning(self, workspace: str, needles: Collection[str], limit: int) -> builtins.list[Job]:
        """Newest first, at most ``limit``: jobs (children too) whose spec's text contains one
        of ``needles`` — a coarse, one-query pre-filter; the caller checks each spec exactly."""

    @abstractmethod
    def children(self, workspace: str, parent: str) -> builtins.list[Job]:
        """The child jobs of a composite job, oldest first; without events."""

    @abstractmethod
    def set_report(self, workspace: str, name: str, report: Mapping[str, Any], at: int) -> None:
        """Replace what the job's type says of it (``Job.report``)."""

    @abstractmethod
    def in_status(self, statuses: Collection[JobStatus]) -> builtins.list[Job]:
        """Every workspace's jobs in these statuses, oldest first (the runner's view)."""

    @abstractmethod
    def record_cancel_request(self, workspace: str, name: str, who: str) -> None:
        """Ask for the job to be canceled: the server holding it stops its process (a
        database state any server acts on); wakes every server's runner."""

    @abstractmethod
    def set_status(
        self,
        workspace: str,
        name: str,
        status: JobStatus,
        at: int,
        message: str = "",
        *,
        failure: JobFailure | None = None,
        canceled_by: str | None = None,
        environment_hash: str | None = None,
    ) -> None:
        """Record a transition (the service checked it is allowed) and its event. A terminal
        status ends the lease and wakes every server's runner (a slot is free)."""

    # -- the shared queue ------------------------------------------------------------------

    @abstractmethod
    def queued_computes(self, *, leaf: bool = True) -> builtins.list[tuple[str, str]]:
        """``(workspace, compute)`` of every compute with queued jobs, the oldest job's first;
        leaf jobs (the runner's) or composite ones (the orchestrator's)."""

    @abstractmethod
    def claim(
        self,
        workspace: str,
        compute: str,
        owner: str,
        now: int,
        lease_ms: int,
        *,
        room: int,
        shared_limit: int | None,
        message: str,
        leaf: bool = True,
        status: JobStatus = JobStatus.PREPARING,
    ) -> builtins.list[Job]:
        """Move up to ``room`` of the compute's oldest ``Queued`` leaf (or composite) jobs to
        ``status``,
        leased to ``owner`` until ``now + lease_ms``, skipping rows another server is claiming.
        ``shared_limit``: at most this many of the compute's jobs active on all servers
        together (counted under a lock per compute, so two servers cannot both fill the last
        slot). The jobs come back without their events."""

    @abstractmethod
    def renew(self, owner: str, now: int, lease_ms: int) -> set[tuple[str, str]]:
        """Extend the lease of every active job ``owner`` holds; the ``(workspace, name)``
        of those it still holds (one that is missing was adopted by another server)."""

    @abstractmethod
    def adopt(
        self, owner: str, now: int, lease_ms: int, *, own: bool = False, leaf: bool = True
    ) -> builtins.list[Job]:
        """Take the leases of active leaf (or composite) jobs whose lease lapsed (or that have none) and, with
        ``own``, those ``owner`` already holds (a restarted server taking back its jobs);
        rows another server is adopting are skipped. The jobs come back with their events and
        the lease owner they had."""

    @abstractmethod
    def lock(self, workspace: str, name: str) -> Job | None:
        """The job without its events, its row locked until the transaction ends: a runner
        checks it still holds the lease before it writes a transition."""

    @abstractmethod
    def set_placement(self, workspace: str, name: str, placement: Mapping[str, Any]) -> None:
        """Record where the job's current attempt is submitted (see ``Job.placement``)."""

    @abstractmethod
    def requeue(self, workspace: str, name: str, at: int, message: str, *, next_attempt: bool) -> None:
        """Back to ``Queued`` with no lease and no placement; ``next_attempt`` counts a retry."""

    @abstractmethod
    def cancel_requests(self, owner: str, *, leaf: bool = True) -> builtins.list[tuple[str, str, str]]:
        """``(workspace, name, who)`` of the active leaf (or composite) jobs ``owner`` holds
        that someone asked to cancel."""


@dataclass(frozen=True, slots=True)
class LogChunkRef:
    """Bytes ``[offset, offset + size)`` of a log, stored at ``key`` in the artifact store."""

    offset: int
    size: int
    key: str


class LogChunkRepository(ABC):
    """The index of logs kept in chunks in the artifact store (``services.log_streams``)."""

    @abstractmethod
    def add(self, stream: str, chunk: LogChunkRef, at: int) -> None:
        """Record a chunk; AlreadyExists when another writer recorded that offset first."""

    @abstractmethod
    def from_offset(self, stream: str, offset: int, limit: int) -> builtins.list[LogChunkRef]:
        """Up to ``limit`` chunks holding bytes at or after ``offset``, in order."""

    @abstractmethod
    def size(self, stream: str) -> int:
        """The log's length: the end of its last chunk (0 for none)."""


class JobControl(ABC):
    """What the job service asks of the runner of its own process (``services.job_runner``)."""

    @abstractmethod
    def wake(self) -> None:
        """Look at the queue now rather than at the next tick (a job was just created)."""


class WakeUps(ABC):
    """Wake-ups between servers: a job created, canceled or ended on one server wakes the
    runners of all (PostgreSQL's LISTEN/NOTIFY; SQLite has none, and runners poll)."""

    @abstractmethod
    def start(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` (from a thread of its own) whenever another server says so."""

    @abstractmethod
    def stop(self) -> None: ...
