"""The orchestrator: advances composite jobs (sweeps, pipelines) by their type's plug-in.

A composite job never runs on a compute target; it expands into child command jobs, which the
:class:`~shipyard.services.job_runner.JobRunner` runs like any other. Any number of servers
run one orchestrator each; a composite job is held by one of them at a time through the same
lease as a command job (claimed from ``Queued`` straight to ``Running``, renewed every quarter
lease, adopted by another server once it lapses), so one server alone decides a sweep's next
trial or a pipeline's next step — and a child's stable step name makes a second creation of
it a no-op even across a takeover.

One thread ticks: claim queued composite jobs, adopt lapsed ones, then call
:meth:`JobKind.advance` for each held job — at once when a job ends on this server (the
runner says so) or a job is created, and every ``poll_s`` otherwise. A cancel of the parent
is handled here for every type: its children are canceled, then it ends ``Canceled``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from shipyard.domain.context import RequestContext
from shipyard.domain.jobs import (
    TERMINAL,
    FailureCause,
    Job,
    JobEvent,
    JobFailure,
    JobStatus,
    check_transition,
)
from shipyard.domain.tracking import RunStatus
from shipyard.errors import NotFound, ShipyardError
from shipyard.services._clock import now_ms
from shipyard.services.access.process_credentials import ProcessCredentials
from shipyard.services.job_kinds import kind_of
from shipyard.services.job_kinds.base import JobKind, ParentHandle
from shipyard.services.job_runner import RunnerNode
from shipyard.services.jobs import JobService, JobSubmission, child_name
from shipyard.services.log_streams import LogStreams, job_log_stream
from shipyard.services.ports import Database, MetricBatch, MetricSeries
from shipyard.services.tracking import TrackingService

__all__ = ["Orchestrator"]

log = logging.getLogger("shipyard.jobs")

_SYSTEM = "[shipyard]"
_S = TypeVar("_S")
_LOG_EVERY_S = 0.5
_ALL = ("", "")  # every parent's pending log lines (on stop)


class _LeaseLost(Exception):
    """Another server holds the parent now."""


class Orchestrator:
    def __init__(
        self,
        db: Database,
        jobs: JobService,
        tracking: TrackingService,
        logs: LogStreams,
        credentials: ProcessCredentials,
        *,
        node: RunnerNode,
        lease_s: float = 10.0,
        poll_s: float = 0.5,
        kind_for: Callable[[str], JobKind | None] = kind_of,
    ) -> None:
        self.db = db
        self.jobs = jobs
        self.tracking = tracking
        self.logs = logs
        self.credentials = credentials
        self.node = node
        self.lease_ms = int(lease_s * 1000)
        self.poll_s = poll_s
        self.kind_for = kind_for
        self._services: list[object] = []
        self._held: dict[tuple[str, str], None] = {}
        self._wake = threading.Event()
        self._queue_changed = True
        self._stop = threading.Event()
        self._log_lock = threading.Lock()
        self._log_pending: dict[tuple[str, str], list[str]] = {}
        self._log_since: dict[tuple[str, str], float] = {}
        self._thread: threading.Thread | None = None

    def provide(self, service: object) -> None:
        """Give the job types a service (``ParentHandle.service``): the resource that builds
        it calls this, so the orchestrator need not know every type's needs."""
        self._services.append(service)

    def service(self, kind: type[_S]) -> _S:
        for found in self._services:
            if isinstance(found, kind):
                return found
        raise LookupError(f"this server has no {kind.__name__} for its job types")

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="shipyard-job-orchestrator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop advancing; the leases stay, so a restart takes the jobs back at once."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        try:
            self._write_logs(only=_ALL)
        except Exception:
            log.exception("writing the log lines of composite jobs failed")

    def wake(self) -> None:
        """A job was created (maybe a composite one to claim) or a child ended."""
        self._queue_changed = True
        self._wake.set()

    def child_ended(self) -> None:
        """A job ended on this server: its parent moves on now; no queue to read."""
        self._wake.set()

    # -- the loop ------------------------------------------------------------------

    def _loop(self) -> None:
        first, last_renew, last_adopt, last_claim = True, time.monotonic(), 0.0, 0.0
        while not self._stop.is_set():
            try:
                now = time.monotonic()
                if first or now - last_adopt >= min(1.0, self.lease_ms / 4000):
                    self._adopt(own=first)
                    first, last_adopt = False, now
                if now - last_renew >= self.lease_ms / 4000:
                    self._renew()
                    last_renew = now
                if self._queue_changed or now - last_claim >= self.poll_s:
                    self._queue_changed = False
                    last_claim = now
                    self._claim()
                self.tick()
                self._write_logs()
            except Exception:
                log.exception("orchestrator tick failed")
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def tick(self) -> None:
        """Advance every composite job this server holds, once."""
        for workspace, name in list(self._held):
            try:
                self._advance(workspace, name)
            except _LeaseLost:
                self._held.pop((workspace, name), None)
            except Exception:
                log.exception("advancing job %s failed", name)

    def _claim(self) -> None:
        with self.db.read() as uow:
            queued = uow.jobs.queued_computes(leaf=False)
        for workspace, compute in queued:
            with self.db.write() as uow:
                claimed = uow.jobs.claim(
                    workspace, compute, self.node.id, now_ms(), self.lease_ms,
                    room=100, shared_limit=None, leaf=False, status=JobStatus.RUNNING,
                    message=f"started by server {self.node.label}",
                )  # fmt: skip
            for job in claimed:
                self._held[(job.workspace, job.name)] = None
                self._set_run(job, RunStatus.RUNNING, end=False)

    def _adopt(self, *, own: bool) -> None:
        with self.db.write() as uow:
            adopted = uow.jobs.adopt(self.node.id, now_ms(), self.lease_ms, own=own, leaf=False)
        for job in adopted:
            if (job.workspace, job.name) in self._held:
                continue
            self._held[(job.workspace, job.name)] = None
            if job.lease_owner != self.node.id:
                self._note(
                    job, f"taken over by server {self.node.label}: the lease of the server holding it lapsed"
                )

    def _renew(self) -> None:
        with self.db.write() as uow:
            mine = uow.jobs.renew(self.node.id, now_ms(), self.lease_ms)
        for key in list(self._held):
            if key not in mine:
                with self.db.read() as uow:
                    current = uow.jobs.get(*key)
                if current is None or current.done or current.lease_owner not in (None, self.node.id):
                    self._held.pop(key, None)

    # -- one parent ----------------------------------------------------------------

    def _advance(self, workspace: str, name: str) -> None:
        with self.db.read() as uow:
            job = uow.jobs.get(workspace, name)
        if job is None or job.done:
            self._held.pop((workspace, name), None)
            return
        if job.lease_owner not in (None, self.node.id):
            raise _LeaseLost(name)
        handle = _Handle(self, job)
        kind = self.kind_for(job.type)
        try:
            self._advance_one(handle, kind, job)
        finally:
            handle.flush_log()

    def _advance_one(self, handle: _Handle, kind: JobKind | None, job: Job) -> None:
        name = job.name
        try:
            if kind is None:
                raise NotFound(
                    f"job type {job.type!r} is not known to this server (server {self.node.label})"
                )
            if handle.cancel_requested is not None:
                who = handle.cancel_requested
                if handle.cancel_children(f"the parent job was canceled by {who}"):
                    failure = JobFailure(FailureCause.CANCELED, f"canceled by {who}")
                    handle.finish(JobStatus.CANCELED, failure.message, failure)
                return
            if job.timeout_s is not None and now_ms() - job.created_at > job.timeout_s * 1000:
                message = f"timed out after {job.timeout_s:g} s (limits.timeout)"
                if handle.cancel_children(message):
                    handle.finish(JobStatus.FAILED, message, JobFailure(FailureCause.TIMEOUT, message))
                return
            kind.advance(handle)
        except _LeaseLost:
            raise
        except Exception as exc:
            if not isinstance(exc, ShipyardError):
                log.exception("job %s (%s) failed in its orchestration", name, job.type)
            message = exc.message if isinstance(exc, ShipyardError) else f"{type(exc).__name__}: {exc}"
            cause = FailureCause.SUBMIT if isinstance(exc, ShipyardError) else FailureCause.INTERNAL
            handle.say(f"failed: {message}")
            handle.cancel_children(f"the parent job failed: {message}")
            handle.finish(JobStatus.FAILED, message, JobFailure(cause, message))

    # -- writes under the lease ----------------------------------------------------

    def transition(self, job: Job, status: JobStatus, message: str, **extra: Any) -> None:
        with self.db.write() as uow:
            current = uow.jobs.lock(job.workspace, job.name)
            if current is None:
                return
            if current.lease_owner not in (None, self.node.id):
                raise _LeaseLost(job.name)
            if current.status == status and status in TERMINAL:
                return
            check_transition(current.status, status)
            uow.jobs.set_status(job.workspace, job.name, status, now_ms(), message, **extra)

    def _note(self, job: Job, message: str) -> None:
        with self.db.write() as uow:
            current = uow.jobs.lock(job.workspace, job.name)
            if current is None or current.lease_owner != self.node.id:
                return
            uow.jobs.set_status(job.workspace, job.name, current.status, now_ms(), message)

    def _set_run(self, job: Job, status: RunStatus, *, end: bool) -> None:
        now = now_ms()
        with self.db.write() as uow:
            ref = uow.runs.ref(job.run_id)
            if ref is not None:
                uow.runs.update(
                    ref, actor=job.created_by, now=now, status=str(status), end_time=now if end else None
                )

    def say(self, job: Job, lines: list[str], *, now: bool = False) -> None:
        """Lines for the parent's log: kept here and written with the next ones within
        ``_LOG_EVERY_S`` (a write is an object and a row: not one per child started), or at
        once with ``now`` (before the job ends: a follower stops reading then)."""
        key = (job.workspace, job.name)
        with self._log_lock:
            pending = self._log_pending.setdefault(key, [])
            if not pending:
                self._log_since[key] = time.monotonic()
            pending.extend(lines)
        if now:
            self._write_logs(only=key)

    def _write_logs(self, *, only: tuple[str, str] | None = None) -> None:
        due = time.monotonic() - _LOG_EVERY_S
        with self._log_lock:
            keys = [
                k for k, since in self._log_since.items()
                if (only is None and since <= due) or only in (k, _ALL)
            ]  # fmt: skip
            batches = [(k, self._log_pending.pop(k, [])) for k in keys]
            for k in keys:
                self._log_since.pop(k, None)
        for (workspace, name), lines in batches:
            if lines:
                data = "".join(f"{_SYSTEM} {line}\n" for line in lines).encode()
                self.logs.append(job_log_stream(workspace, name), data)


class _Handle(ParentHandle):
    """One :meth:`JobKind.advance` call's view of its parent."""

    def __init__(self, orchestrator: Orchestrator, job: Job) -> None:
        self._o = orchestrator
        self._job = job
        self._ctx: RequestContext | None = None
        self._lines: list[str] = []  # the parent's log lines of this call, written once at its end

    @property
    def job(self) -> Job:
        return self._job

    @property
    def ctx(self) -> RequestContext:
        if self._ctx is None:
            principal = self._o.credentials.acting_as(self._job.created_by, self._job.workspace)
            self._ctx = RequestContext(principal=principal, workspace=self._job.workspace)
        return self._ctx

    @property
    def jobs(self) -> JobService:
        return self._o.jobs

    @property
    def db(self) -> Database:
        return self._o.db

    def service(self, kind: type[_S]) -> _S:
        return self._o.service(kind)

    @property
    def cancel_requested(self) -> str | None:
        return self._job.canceled_by

    def children(self) -> dict[str, Job]:
        with self._o.db.read() as uow:
            found = uow.jobs.children(self._job.workspace, self._job.name)
        return {child.step or child.name: child for child in found}

    def create_child(self, step: str, submission: JobSubmission) -> Job:
        # No lease check of its own: a step is created once whoever creates it, and the kind
        # saved its report (which checks the lease) before creating what the report names.
        return self._o.jobs.create(self.ctx, submission, parent=self._job, step=step)

    def record_reused(self, step: str, source: Job, report: Mapping[str, Any]) -> Job:
        message = f"reused {source.name}: its outputs are this step's"
        return self._record(step, source, JobStatus.COMPLETED, message, report)

    def record_skipped(self, step: str, message: str, report: Mapping[str, Any]) -> Job:
        return self._record(step, None, JobStatus.CANCELED, message, report)

    def _record(
        self, step: str, source: Job | None, status: JobStatus, message: str, report: Mapping[str, Any]
    ) -> Job:
        self._check_lease()
        existing = self.children().get(step)
        if existing is not None:
            return existing
        now = now_ms()
        parent = self._job
        child = Job(
            name=child_name(parent.name, step),
            workspace=parent.workspace,
            display_name=step,
            experiment_id=parent.experiment_id,
            run_id=source.run_id if source is not None else parent.run_id,
            status=status,
            compute=source.compute if source is not None else parent.compute,
            command=source.command if source is not None else "",
            spec=dict(source.spec) if source is not None else {},
            code_digest=source.code_digest if source is not None else None,
            environment_hash=source.environment_hash if source is not None else None,
            timeout_s=None,
            created_at=now,
            created_by=parent.created_by,
            updated_at=now,
            failure=None if status == JobStatus.COMPLETED else JobFailure(FailureCause.CANCELED, message),
            events=[JobEvent(JobStatus.NOT_STARTED, now, "created"), JobEvent(status, now, message)],
            parent=parent.name,
            step=step,
            report=dict(report),
        )
        with self._o.db.write() as uow:
            ws = uow.workspaces.ensure(parent.workspace, parent.created_by, now)
            uow.jobs.create(ws, int(parent.experiment_id), child)
        found = self.children().get(step)
        assert found is not None
        return found

    def cancel_child(self, step: str, reason: str) -> None:
        child = self.children().get(step)
        if child is None or child.done:
            return
        self._o.jobs.cancel(self.ctx, child.name, reason=reason)

    def save_report(self, report: Mapping[str, Any]) -> None:
        with self._o.db.write() as uow:
            current = uow.jobs.lock(self._job.workspace, self._job.name)
            if current is None or current.lease_owner not in (None, self._o.node.id):
                raise _LeaseLost(self._job.name)
            uow.jobs.set_report(self._job.workspace, self._job.name, report, now_ms())
        self._job = _with_report(self._job, dict(report))

    def say(self, line: str) -> None:
        self._lines.append(line)

    def flush_log(self, *, now: bool = False) -> None:
        if self._lines or now:
            lines, self._lines = self._lines, []
            self._o.say(self._job, lines, now=now)

    def log_to_run(
        self,
        *,
        params: Mapping[str, str] | None = None,
        metrics: Mapping[str, float] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        run_id = self._job.run_id
        if params:
            self._o.tracking.log_params(self.ctx, run_id, dict(params))
        if tags:
            self._o.tracking.set_tags(self.ctx, run_id, dict(tags))
        if metrics:
            now = now_ms()
            batch = MetricBatch([MetricSeries(k, [0], [float(v)], [now]) for k, v in metrics.items()])
            self._o.tracking.log_metrics(self.ctx, run_id, batch)

    def finish(self, status: JobStatus, message: str, failure: JobFailure | None = None) -> None:
        extra: dict[str, Any] = {}
        if failure is not None:
            extra["failure"] = failure
        if status == JobStatus.CANCELED and self._job.canceled_by:
            extra["canceled_by"] = self._job.canceled_by
        self.say(message)
        self.flush_log(now=True)  # before the end: a follower of the log stops once the job has ended
        self._o.transition(self._job, status, message, **extra)
        run_status = {
            JobStatus.COMPLETED: RunStatus.FINISHED,
            JobStatus.CANCELED: RunStatus.KILLED,
        }.get(status, RunStatus.FAILED)
        self._o._set_run(self._job, run_status, end=True)
        self._o._held.pop((self._job.workspace, self._job.name), None)

    def _check_lease(self) -> None:
        with self._o.db.read() as uow:
            current = uow.jobs.get(self._job.workspace, self._job.name)
        if current is None or current.lease_owner not in (None, self._o.node.id):
            raise _LeaseLost(self._job.name)


def _with_report(job: Job, report: dict[str, Any]) -> Job:
    from dataclasses import replace

    return replace(job, report=report)
