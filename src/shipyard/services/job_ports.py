"""Repositories of the "develop" stage: environments, compute targets and jobs.

Implemented by ``stores/sql/jobs.py``; reached through a unit of work (``uow.jobs``,
``uow.environments``, ``uow.computes``) so a job, its run and its first events are written in
one transaction.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Collection

from shipyard.domain.jobs import Compute, Environment, Job, JobFailure, JobStatus

__all__ = ["ComputeRepository", "EnvironmentRepository", "JobControl", "JobRepository"]


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
        self, workspace: str, statuses: Collection[JobStatus] | None, offset: int, limit: int
    ) -> list[Job]:
        """Newest first; without events."""

    @abstractmethod
    def in_status(self, statuses: Collection[JobStatus]) -> builtins.list[Job]:
        """Every workspace's jobs in these statuses, oldest first (the runner's view)."""

    @abstractmethod
    def record_cancel_request(self, workspace: str, name: str, who: str) -> None:
        """Remember who asked to cancel (shown while the process is being stopped)."""

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
        """Record a transition (the service checked it is allowed) and its event."""


class JobControl(ABC):
    """What the job service asks of the runner (implemented by ``services.job_runner``)."""

    @abstractmethod
    def wake(self) -> None:
        """Look at the queue now rather than at the next tick (a job was just created)."""

    @abstractmethod
    def request_cancel(self, job: Job, who: str) -> None:
        """Stop a job that is past ``Queued``; it ends ``Canceled`` once its process is gone."""
