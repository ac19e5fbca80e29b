"""A job type as a plug-in: what it reads from a job file, and how its job expands into children.

Command jobs are *leaves*: the :class:`~shipyard.services.job_runner.JobRunner` runs them on
compute targets. Every other type (``sweep``, ``pipeline``, later ``automl``) is *composite*:
its job is never run itself; the :class:`~shipyard.services.job_orchestrator.Orchestrator` of
whichever server holds its lease calls :meth:`JobKind.advance` again and again, and the kind
creates child command jobs, watches them, and ends the parent. A new type is a new module in
this package with a ``KIND``; neither the runner nor the orchestrator changes.

``advance`` must be idempotent and keep nothing in memory it cannot rebuild: the server
holding the parent may die between two calls, and another server calls it next with a new
:class:`ParentHandle`. Children are created under a stable ``step`` name (a second create of
the same step returns the first), and the kind's own state lives in the parent's
``report``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from shipyard.domain.context import RequestContext
from shipyard.domain.jobs import Job, JobFailure, JobStatus
from shipyard.services.job_specs import InlineEnvironmentValues
from shipyard.services.jobs import JobService, JobSubmission
from shipyard.services.ports import Database

__all__ = ["JobKind", "JobRequest", "ParentHandle"]

_S = TypeVar("_S")


@dataclass(frozen=True, slots=True)
class JobRequest:
    """A job file as the client sent it (``POST /api/v1/jobs``): the file's own mapping, where
    it came from, and what the client uploaded or read for it.

    ``code_snapshot``/``input_snapshots``/``environment`` belong to a command job or a sweep's
    trial; a pipeline's steps have theirs under ``steps[<step name>]`` (the same three keys).
    ``uploads_pending``: the client asks before uploading (``POST /api/v1/jobs/check``)."""

    spec: Mapping[str, Any]
    source: str = "job.yml"
    code_snapshot: str | None = None
    input_snapshots: Mapping[str, str] = field(default_factory=dict)
    environment: InlineEnvironmentValues | None = None
    git: Mapping[str, str] = field(default_factory=dict)
    steps: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    uploads_pending: bool = False


class ParentHandle(ABC):
    """What a composite job's kind may do while this server holds the job's lease."""

    @property
    @abstractmethod
    def job(self) -> Job:
        """The parent as read at the start of this call (with its ``report``)."""

    @property
    @abstractmethod
    def ctx(self) -> RequestContext:
        """The job's submitter in its workspace: children run as them."""

    @property
    @abstractmethod
    def jobs(self) -> JobService: ...

    @property
    @abstractmethod
    def db(self) -> Database:
        """For reads a kind needs beyond its children (a trial's metrics, earlier jobs)."""

    @abstractmethod
    def service(self, kind: type[_S]) -> _S:
        """A service the server gave its orchestrator for the types that need one (the
        ``monitor`` type's :class:`~shipyard.services.monitoring.runner.MonitorRunner`);
        LookupError when this server has none."""

    @property
    @abstractmethod
    def cancel_requested(self) -> str | None:
        """Who asked to cancel the parent, if anyone; the kind stops its children and ends
        the parent ``Canceled`` (see :meth:`cancel_children`)."""

    @abstractmethod
    def children(self) -> dict[str, Job]:
        """The children by step, read now."""

    @abstractmethod
    def create_child(self, step: str, submission: JobSubmission) -> Job:
        """A child command job in the parent's experiment, its run a child of the parent's
        run; queued at once. Creating a step that exists returns the existing child."""

    @abstractmethod
    def record_reused(self, step: str, source: Job, report: Mapping[str, Any]) -> Job:
        """A child that did not run: ``Completed`` at once, pointing at ``source``'s run (its
        outputs are the same artifacts, not copies); ``report`` says why."""

    @abstractmethod
    def record_skipped(self, step: str, message: str, report: Mapping[str, Any]) -> Job:
        """A child that will never run (an upstream step failed): ``Canceled`` at once."""

    @abstractmethod
    def cancel_child(self, step: str, reason: str) -> None:
        """Ask for a child to stop (a pruned trial, a parent canceled); it ends Canceled."""

    @abstractmethod
    def save_report(self, report: Mapping[str, Any]) -> None:
        """Replace the parent's ``report`` (the kind's state; shown by ``job show``)."""

    @abstractmethod
    def say(self, line: str) -> None:
        """A line in the parent's log (``shipyard job stream`` shows it)."""

    @abstractmethod
    def log_to_run(
        self, *, params: Mapping[str, str] | None = None, metrics: Mapping[str, float] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:  # fmt: skip
        """Record on the parent's run (a sweep's best trial's parameters and metric)."""

    @abstractmethod
    def finish(self, status: JobStatus, message: str, failure: JobFailure | None = None) -> None:
        """End the parent (Completed, Failed or Canceled) and its run. Call it once every
        child is done."""

    def cancel_children(self, reason: str) -> bool:
        """Stop every child that is still going; whether all of them have ended."""
        done = True
        for step, child in self.children().items():
            if not child.done:
                done = False
                if child.canceled_by is None:
                    self.cancel_child(step, reason)
        return done


class JobKind(ABC):
    """One job type: ``type`` is the file's ``type:`` value."""

    type: ClassVar[str]

    @abstractmethod
    def check(self, ctx: RequestContext, request: JobRequest, jobs: JobService) -> None:
        """Everything :meth:`submit` checks, before the client uploads anything: the file's
        shape (:class:`~shipyard.errors.InvalidSpec` with ``field``, so the client names the
        line) and the resources it names (every missing one at once)."""

    @abstractmethod
    def submit(self, ctx: RequestContext, request: JobRequest, jobs: JobService) -> Job:
        """Check the request and create the parent job (``jobs.create_parent``), queued for
        an orchestrator; nothing is written when a check fails."""

    @abstractmethod
    def advance(self, parent: ParentHandle) -> None:
        """One step of the parent's life: create the children that may start, react to
        those that ended, end the parent when it is done. Called every time one of its
        children changes state, and about once a second otherwise."""

    def describe(self, job: Job) -> dict[str, Any]:
        """What the API shows of the job's ``report`` (all of it by default; a type may keep
        an internal cache out)."""
        return dict(job.report)


def child_submission(template: JobSubmission, **changes: Any) -> JobSubmission:
    """A copy of ``template`` with some fields changed (a trial's command, a step's inputs)."""
    from dataclasses import replace

    return replace(template, **changes)
