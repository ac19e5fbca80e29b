"""The job runner: takes queued jobs to their compute targets and follows them to the end.

One thread ticks every ``poll_s`` (and at once when woken by a new job or a cancel):

1. **Schedule** — oldest ``Queued`` job first, while its compute target has a free slot
   (``max_concurrent`` counts ``Preparing``, ``Running`` and ``Finalizing`` jobs), mark it
   ``Preparing`` and hand it to a worker thread.
2. **Prepare** (worker) — materialise the code snapshot and the inputs into the job's folder,
   build or fetch the environment, render the command, submit it to the target.
3. **Watch** — copy the target's new log bytes into the job's ``stream.log`` (what ``job
   stream`` follows); promote to ``Running`` when the target says so; on a terminal state
   hand the job to a worker to **finalize**: keep ``user_logs/std_log.txt`` and the named
   outputs with the run, then ``Completed``, ``Failed`` (with its cause) or ``Canceled``.

A restart calls :meth:`recover` first: ``Preparing`` jobs go back to ``Queued`` (nothing of
them ran), ``Running`` ones are re-attached when their target can (local processes run
under a supervisor that outlives the server) or failed with the reason, ``Finalizing`` ones
are finalized again (each step is idempotent).
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipyard.domain.jobs import (
    ACTIVE,
    TERMINAL,
    Compute,
    FailureCause,
    Job,
    JobFailure,
    JobStatus,
    check_transition,
)
from shipyard.domain.tracking import RunStatus
from shipyard.errors import EnvironmentBuildFailed, NotFound, ShipyardError
from shipyard.services._clock import now_ms
from shipyard.services.access.process_credentials import ProcessCredentials
from shipyard.services.artifacts import ArtifactService
from shipyard.services.compute import ComputeTarget, Submission, TargetState, TargetStatus
from shipyard.services.environment_ports import BuiltEnvironment, EnvironmentBuilder
from shipyard.services.job_assets import ComputeService, EnvironmentService
from shipyard.services.job_inputs import InputResolver, PreparedInputs
from shipyard.services.job_outputs import OutputRegistrar
from shipyard.services.job_ports import JobControl
from shipyard.services.jobs import EnvironmentChoice, job_dir
from shipyard.services.ports import Database, RunRef

__all__ = ["JobRunner", "TargetFactory"]

log = logging.getLogger("shipyard.jobs")

TargetFactory = Callable[[Compute, Path], ComputeTarget]
"""Opens the target of a compute (``shipyard.compute.registry.open_target``), given its state folder."""

_LOG_TAIL_LINES = 30
_SCHEDULE_EVERY_S = 1.0
_SYSTEM = "[shipyard]"


@dataclass
class _Watched:
    job: Job
    target: ComputeTarget
    offset: int = 0
    running: bool = False
    cancel_by: str | None = None
    finishing: bool = False


@dataclass
class _State:
    """What the runner holds in memory; the database holds the statuses."""

    watched: dict[tuple[str, str], _Watched] = field(default_factory=dict)
    preparing: dict[tuple[str, str], str] = field(default_factory=dict)  # → its compute's name
    cancels: dict[tuple[str, str], str] = field(default_factory=dict)  # → who asked


class JobRunner(JobControl):
    def __init__(
        self,
        db: Database,
        artifacts: ArtifactService,
        environments: EnvironmentService,
        computes: ComputeService,
        builder: EnvironmentBuilder,
        inputs: InputResolver,
        open_target: TargetFactory,
        *,
        jobs_dir: Path,
        state_dir: Path,
        tracking_uri: Callable[[], str],
        credentials: ProcessCredentials,
        outputs: OutputRegistrar | None = None,
        poll_s: float = 0.05,
        workers: int = 4,
    ) -> None:
        self.db = db
        # The job's token, its revealed secrets, and who the submitter is when it ends.
        self.credentials = credentials
        self.artifacts = artifacts
        self.environments = environments
        self.computes = computes
        self.builder = builder
        self.inputs = inputs
        self.open_target = open_target
        self.jobs_dir = jobs_dir
        self.state_dir = state_dir
        self.tracking_uri = tracking_uri
        self.outputs = outputs
        self.poll_s = poll_s
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="shipyard-job")
        self._lock = threading.Lock()
        self._state = _State()
        self._targets: dict[tuple[str, str], ComputeTarget] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        self.recover()
        self._thread = threading.Thread(target=self._loop, name="shipyard-job-runner", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop scheduling; running processes keep running and are re-attached on restart."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._pool.shutdown(wait=True, cancel_futures=False)
        for target in self._targets.values():
            target.close()

    def wake(self) -> None:
        self._wake.set()

    def request_cancel(self, job: Job, who: str) -> None:
        """Cancel a job past ``Queued``: its preparation stops before submitting, or its
        target kills the process tree; the watch then finalizes it as ``Canceled``."""
        key = (job.workspace, job.name)
        with self._lock:
            self._state.cancels[key] = who
            watched = self._state.watched.get(key)
        if watched is not None:
            watched.cancel_by = who
            watched.target.cancel(_target_id(job), f"by {who}")
        self.wake()

    # -- the loop ------------------------------------------------------------------

    def _loop(self) -> None:
        # The queue is read when something may have changed it (a job created or canceled, a
        # slot freed: each wakes the loop) and otherwise once a second, not every tick: an
        # idle server should not query its database twenty times a second.
        woken, last_schedule = True, 0.0
        while not self._stop.is_set():
            try:
                if woken or time.monotonic() - last_schedule >= _SCHEDULE_EVERY_S:
                    last_schedule = time.monotonic()
                    self._schedule()
                self._watch()
            except Exception:
                log.exception("job runner tick failed")
            woken = self._wake.wait(self.poll_s)
            self._wake.clear()

    def _busy(self, workspace: str, compute: str) -> int:
        with self._lock:
            watched = sum(
                1
                for (ws, _), w in self._state.watched.items()
                if ws == workspace and w.job.compute == compute
            )
            preparing = sum(
                1 for (ws, _), c in self._state.preparing.items() if ws == workspace and c == compute
            )
        return watched + preparing

    def _schedule(self) -> None:
        with self.db.read() as uow:
            queued = uow.jobs.in_status([JobStatus.QUEUED])
        for job in queued:
            key = (job.workspace, job.name)
            with self._lock:
                if key in self._state.preparing or key in self._state.watched:
                    continue
            try:
                compute = self.computes.get_in(job.workspace, job.compute)
            except NotFound as exc:
                self._fail(job, JobFailure(FailureCause.SUBMIT, exc.message))
                continue
            if self._busy(job.workspace, compute.name) >= compute.max_concurrent:
                continue
            with self._lock:
                self._state.preparing[key] = compute.name
            self._transition(job, JobStatus.PREPARING, "materialising code, inputs and environment")
            self._pool.submit(self._prepare_safely, job, compute)

    def _watch(self) -> None:
        with self._lock:
            watched = [w for w in self._state.watched.values() if not w.finishing]
        for w in watched:
            self._copy_logs(w)
            try:
                status = w.target.status(_target_id(w.job))
            except NotFound:
                status = TargetStatus(TargetState.LOST, message="the compute target no longer knows this job")
            started = status.state == TargetState.RUNNING or status.started_at is not None
            if started and not w.running:
                # Stamped with the target's own start time when it has one: a short job may
                # already have ended when the watch first looks, and still ran.
                w.running = True
                self._transition(w.job, JobStatus.RUNNING, "the process started", at=status.started_at)
                self._set_run(w.job, RunStatus.RUNNING, end=False)
            if status.state.terminal:
                self._copy_logs(w)
                w.finishing = True
                self._pool.submit(self._finalize_safely, w, status)

    # -- prepare -------------------------------------------------------------------

    def _prepare_safely(self, job: Job, compute: Compute) -> None:
        key = (job.workspace, job.name)
        try:
            self._prepare(job, compute)
        except Exception as exc:
            failure = _failure_of(exc)
            if not isinstance(exc, ShipyardError):
                log.exception("preparing job %s failed", job.name)
            self._system_line(job, f"preparation failed: {failure.message}")
            self._fail(job, failure)
        finally:
            with self._lock:
                self._state.preparing.pop(key, None)
            self.wake()  # a failed preparation frees its slot for the next queued job

    def _prepare(self, job: Job, compute: Compute) -> None:
        folder = job_dir(self.jobs_dir, job.workspace, job.name)
        if folder.exists():
            shutil.rmtree(folder)  # a requeued job starts from a clean folder
        folder.mkdir(parents=True)
        self._system_line(job, f"job {job.name} on compute {compute.name!r} ({compute.kind})")
        spec = job.spec
        prepared: PreparedInputs = self.inputs.prepare(job, folder, self._system_line)
        env_spec = spec["environment"]
        choice = EnvironmentChoice(
            name=env_spec.get("name"),
            version=env_spec.get("version"),
            label=env_spec.get("label"),
            registry=env_spec.get("registry"),
            python=env_spec.get("python"),
            requirements=tuple(env_spec.get("requirements") or ()),
            image=env_spec.get("image"),
        )
        resolved = self.environments.resolve_in(job.workspace, choice)
        runs_in = (
            _describe_env(resolved.source)
            if compute.kind == "local"
            else _describe_remote_env(compute.kind, resolved.request.requirements)
        )
        if resolved.image:
            self._system_line(
                job,
                f"image {resolved.image!r} was not used: {compute.kind} targets run no containers;"
                f" the job runs in {runs_in}",
            )
        self._system_line(job, f"environment: {runs_in}")
        built: BuiltEnvironment | None = None
        if compute.kind == "local":
            built = self.builder.ensure(resolved.request, log=lambda line: self._system_line(job, line))
            if not built.is_server_interpreter:
                hit = "cache hit" if built.cache_hit else f"built in {built.seconds:.1f} s"
                self._system_line(job, f"environment {built.hash}: {hit}")
        command = prepared.render(job.command)
        variables: dict[str, str] = dict(spec.get("environment_variables", {}))
        granted = self.credentials.for_job(job.workspace, job.name, job.created_by, variables, job.timeout_s)
        variables, secret_env = granted.env, granted.secret_env
        if secret_env:
            names = ", ".join(sorted(secret_env))
            self._system_line(job, f"given to the process only, never written to disk: {names}")
        env = {
            **variables,
            "MLFLOW_TRACKING_URI": self.tracking_uri(),
            "MLFLOW_RUN_ID": job.run_id,
            "MLFLOW_EXPERIMENT_ID": job.experiment_id,
            "SHIPYARD_URL": self.tracking_uri(),
            "SHIPYARD_RUN_ID": job.run_id,
            "SHIPYARD_JOB_NAME": job.name,
            "SHIPYARD_WORKSPACE": job.workspace,
            "SHIPYARD_OUTPUTS_DIR": str(folder / "outputs"),
        }
        with self._lock:
            canceled_by = self._state.cancels.pop((job.workspace, job.name), None)
        if canceled_by is not None:
            self._cancelled_before_start(job, canceled_by)
            return
        target = self._target(job.workspace, compute)
        self._system_line(job, f"$ {command}")
        (folder / "proc_start").write_text(str(self.log_size(job)))
        target.submit(
            Submission(
                job_id=_target_id(job),
                command=command,
                working_dir=prepared.working_dir,
                env=env,
                python_bin_dir=None if built is None or built.is_server_interpreter else built.python.parent,
                pip=tuple(resolved.request.requirements) if compute.kind != "local" else (),
                timeout_s=job.timeout_s,
                secret_env=secret_env,
            )
        )
        watched = _Watched(job, target)
        with self._lock:
            self._state.watched[(job.workspace, job.name)] = watched
            late = self._state.cancels.get((job.workspace, job.name))
        if late is not None:  # asked while we were submitting
            watched.cancel_by = late
            target.cancel(_target_id(job), f"by {late}")
        self.wake()

    def _cancelled_before_start(self, job: Job, who: str) -> None:
        failure = JobFailure(FailureCause.CANCELED, f"canceled by {who} before it started")
        self._system_line(job, failure.message)
        self._transition(job, JobStatus.CANCELED, failure.message, failure=failure, canceled_by=who)
        self._set_run(job, RunStatus.KILLED, end=True)

    # -- finalize ------------------------------------------------------------------

    def _finalize_safely(self, w: _Watched, status: TargetStatus) -> None:
        try:
            self._finalize(w, status)
        except Exception as exc:
            log.exception("finalizing job %s failed", w.job.name)
            self._fail(w.job, JobFailure(FailureCause.INTERNAL, f"finalizing failed: {exc}"))
        finally:
            with self._lock:
                self._state.watched.pop((w.job.workspace, w.job.name), None)
                self._state.cancels.pop((w.job.workspace, w.job.name), None)
            self.wake()

    def _finalize(self, w: _Watched, status: TargetStatus) -> None:
        job = w.job
        self._transition(
            job, JobStatus.FINALIZING, f"the process ended: {status.message or status.state.value}"
        )
        folder = job_dir(self.jobs_dir, job.workspace, job.name)
        std_log = folder / "std_log.txt"
        self._save_target_log(w, std_log)
        with self.db.read() as uow:
            ref = uow.runs.ref(job.run_id)
        if ref is None:  # the run was deleted under the job
            raise NotFound(f"the run {job.run_id} of job {job.name} is gone")
        self.artifacts.put_local(ref, "user_logs/std_log.txt", std_log, job.created_by)
        if status.state == TargetState.SUCCEEDED:
            # ./outputs of the working directory first (Azure ML's convention), then the named
            # outputs, so a named output wins over a file of the same path.
            self._keep_outputs(ref, folder / "code" / "outputs", folder / "code" / "outputs", job)
            outputs = folder / "outputs"
            for name in sorted(job.spec.get("outputs", {})):
                self._keep_outputs(ref, outputs / name, outputs, job)
            if self.outputs is not None:
                submitter = self.credentials.acting_as(job.created_by, job.workspace)
                self.outputs.register(job, outputs, lambda line: self._system_line(job, line), submitter)
        tail = _tail(std_log)
        who = w.cancel_by or job.canceled_by
        if status.state == TargetState.SUCCEEDED:
            self._system_line(job, "completed")
            self._transition(job, JobStatus.COMPLETED, "completed")
            self._set_run(job, RunStatus.FINISHED, end=True)
        elif status.state == TargetState.CANCELED or who:
            failure = JobFailure(FailureCause.CANCELED, f"canceled by {who or 'the compute target'}")
            self._system_line(job, failure.message)
            self._transition(job, JobStatus.CANCELED, failure.message, failure=failure, canceled_by=who)
            self._set_run(job, RunStatus.KILLED, end=True)
        else:
            failure = _target_failure(status, tail)
            self._system_line(job, f"failed: {failure.message}")
            self._fail(job, failure)

    def _keep_outputs(self, ref: RunRef, source: Path, base: Path, job: Job) -> None:
        """Every regular file under ``source`` as the run's ``outputs/<path from base>``."""
        if not source.is_dir() or source.is_symlink():
            return
        for path in sorted(source.rglob("*")):
            if path.is_file() and not path.is_symlink():
                rel = path.relative_to(base).as_posix()
                self.artifacts.put_local(ref, f"outputs/{rel}", path, job.created_by)

    def _save_target_log(self, w: _Watched, dest: Path) -> None:
        job_id = _target_id(w.job)
        offset = 0
        with dest.open("wb") as out:
            while True:
                chunk = w.target.logs(job_id, offset)
                out.write(chunk.data)
                offset = chunk.next_offset
                if not chunk.data:
                    break

    # -- recovery ------------------------------------------------------------------

    def recover(self) -> None:
        with self.db.read() as uow:
            active = uow.jobs.in_status(ACTIVE)
        for job in active:
            try:
                self._recover_one(job)
            except Exception as exc:
                log.exception("recovering job %s failed", job.name)
                self._fail(
                    job, JobFailure(FailureCause.LOST, f"could not be recovered after a restart: {exc}")
                )

    def _recover_one(self, job: Job) -> None:
        if job.status == JobStatus.PREPARING:
            self._transition(job, JobStatus.QUEUED, "the server restarted during preparation; queued again")
            return
        compute = self.computes.get_in(job.workspace, job.compute)
        target = self._target(job.workspace, compute)
        try:
            status = target.status(_target_id(job))
        except NotFound:
            self._fail(
                job,
                JobFailure(
                    FailureCause.LOST,
                    "the server restarted and the compute target no longer knows this job's process",
                ),
            )
            return
        if status.state == TargetState.LOST:
            self._fail(job, JobFailure(FailureCause.LOST, status.message or "the process was lost"))
            return
        folder = job_dir(self.jobs_dir, job.workspace, job.name)
        try:
            start = int((folder / "proc_start").read_text())
        except (OSError, ValueError):
            start = self.log_size(job)
        w = _Watched(job, target, offset=max(0, self.log_size(job) - start), running=True)
        with self._lock:
            self._state.watched[(job.workspace, job.name)] = w
        log.info("re-attached job %s (%s)", job.name, status.state.value)

    # -- helpers -------------------------------------------------------------------

    def _target(self, workspace: str, compute: Compute) -> ComputeTarget:
        key = (workspace, compute.name)
        with self._lock:
            target = self._targets.get(key)
            if target is None:
                state = self.state_dir / workspace / compute.name
                state.mkdir(parents=True, exist_ok=True)
                target = self.open_target(compute, state)
                self._targets[key] = target
            return target

    def log_size(self, job: Job) -> int:
        try:
            return (job_dir(self.jobs_dir, job.workspace, job.name) / "stream.log").stat().st_size
        except FileNotFoundError:
            return 0

    def _copy_logs(self, w: _Watched) -> None:
        chunk = w.target.logs(_target_id(w.job), w.offset)
        if chunk.data:
            path = job_dir(self.jobs_dir, w.job.workspace, w.job.name) / "stream.log"
            with path.open("ab") as out:
                out.write(chunk.data)
            w.offset = chunk.next_offset

    def _system_line(self, job: Job, line: str) -> None:
        folder = job_dir(self.jobs_dir, job.workspace, job.name)
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / "stream.log").open("ab") as out:
            out.write(f"{_SYSTEM} {line}\n".encode())

    def _transition(
        self, job: Job, status: JobStatus, message: str, *, at: int | None = None, **extra: Any
    ) -> None:
        with self.db.write() as uow:
            current = uow.jobs.get(job.workspace, job.name)
            if current is None:
                return
            check_transition(current.status, status)
            # Never before the previous event: the target's clock is read in another process.
            last = current.events[-1].at if current.events else 0
            when = max(at, last) if at is not None else now_ms()
            uow.jobs.set_status(job.workspace, job.name, status, when, message, **extra)
        if status in TERMINAL:
            self._release(job)

    def _release(self, job: Job) -> None:
        self.credentials.release(job.workspace, job.name)

    def _fail(self, job: Job, failure: JobFailure) -> None:
        with self.db.write() as uow:
            current = uow.jobs.get(job.workspace, job.name)
            if current is None or current.done:
                return
            uow.jobs.set_status(
                job.workspace, job.name, JobStatus.FAILED, now_ms(), failure.message, failure=failure
            )
        self._release(job)
        self._set_run(job, RunStatus.FAILED, end=True)

    def _set_run(self, job: Job, status: RunStatus, *, end: bool) -> None:
        now = now_ms()
        with self.db.write() as uow:
            ref = uow.runs.ref(job.run_id)
            if ref is not None:
                uow.runs.update(
                    ref, actor=job.created_by, now=now, status=str(status), end_time=now if end else None
                )


def _target_id(job: Job) -> str:
    return f"{job.workspace}.{job.name}"


def _describe_env(source: str) -> str:
    if source == "server":
        return "the server's own Python environment"
    if source == "inline":
        return "an environment built from the job's conda file"
    return f"environment {source}"


def _describe_remote_env(kind: str, requirements: tuple[str, ...]) -> str:
    """A remote target (Ray) runs the command with its own interpreter, not the server's."""
    if requirements:
        return f"a virtualenv the {kind} cluster builds with pip: {' '.join(requirements)}"
    return f"the {kind} cluster's own Python (`python` on the node's PATH)"


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 16384))
            text = handle.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _failure_of(exc: Exception) -> JobFailure:
    if isinstance(exc, EnvironmentBuildFailed):
        return JobFailure(
            FailureCause.ENVIRONMENT_BUILD, exc.message, log_tail=str(exc.details.get("log_tail", ""))
        )
    if isinstance(exc, NotFound):
        return JobFailure(FailureCause.INPUT_NOT_FOUND, exc.message)
    if isinstance(exc, ShipyardError):
        return JobFailure(FailureCause.SUBMIT, exc.message)
    return JobFailure(FailureCause.INTERNAL, f"{type(exc).__name__}: {exc}")


def _target_failure(status: TargetStatus, tail: str) -> JobFailure:
    if status.state == TargetState.LOST:
        return JobFailure(FailureCause.LOST, status.message or "the process was lost", log_tail=tail)
    if status.message.startswith("timed out"):
        return JobFailure(FailureCause.TIMEOUT, status.message, status.exit_code, tail)
    message = status.message or f"exit code {status.exit_code}"
    last = _telling_line(tail)
    return JobFailure(
        FailureCause.EXIT_CODE,
        f"{message}; {last}" if last else message,
        status.exit_code,
        tail,
    )


def _telling_line(tail: str) -> str:
    """The line that says why: a Python traceback's exception, else the last line printed."""
    lines = [line for line in tail.splitlines() if line.strip()]
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")]
    if starts:
        for line in lines[starts[-1] + 1 :]:
            if not line.startswith((" ", "\t")):
                return line.strip()
    return f"last log line: {lines[-1].strip()}" if lines else ""
