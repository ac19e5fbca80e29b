"""What the job runner does to one job in its worker threads: prepare it and submit it to its
compute target, then finalize it once its process has ended.

**Prepare** — the job's folder ``<home>/jobs/<workspace>/<name>/`` gets ``code/`` (the
snapshot, and the working directory), ``inputs/<name>``, ``outputs/<name>/``; the
environment is built with uv or found in the cache; the command is rendered; the *placement*
(this server's node and machine, the job's folder, the target's state folder, the target's
job id and the log's size at the start) is recorded, then the command is submitted. A job
canceled meanwhile stops before the submit.

**Finalize** — the target's whole output is kept as the run's ``user_logs/std_log.txt``; on
success the files the command wrote to ``./outputs`` and each named output are kept as the
run's ``outputs/…`` and registered when the file names them; then ``Completed``, ``Canceled``
or ``Failed`` with the cause read from the exit code and the log's last lines.

Every write of a status goes through the runner, which writes only while this server still
holds the job's lease (:class:`LeaseLost` otherwise: another server adopted it).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from shipyard.domain.jobs import Compute, FailureCause, Job, JobFailure, JobStatus
from shipyard.domain.tracking import RunStatus
from shipyard.errors import EnvironmentBuildFailed, NotFound, ShipyardError
from shipyard.services.access.process_credentials import ProcessCredentials
from shipyard.services.artifacts import ArtifactService
from shipyard.services.compute import (
    PIP,
    PYTHON_BIN_DIR,
    ComputeTarget,
    Submission,
    TargetState,
    TargetStatus,
)
from shipyard.services.environment_ports import BuiltEnvironment, EnvironmentBuilder
from shipyard.services.job_assets import EnvironmentService
from shipyard.services.job_inputs import InputResolver, PreparedInputs
from shipyard.services.job_outputs import OutputRegistrar
from shipyard.services.jobs import command_of
from shipyard.services.log_streams import LogWriter
from shipyard.services.ports import RunRef

if TYPE_CHECKING:
    from shipyard.services.job_runner import JobRunner

__all__ = ["Execution", "Held", "LeaseLost", "failure_of", "target_id"]

log = logging.getLogger("shipyard.jobs")

_LOG_TAIL_LINES = 30


class LeaseLost(Exception):
    """This server no longer holds the job: another adopted it after its lease lapsed."""


@dataclass
class Held:
    """A job this server's runner holds, from its claim (or adoption) to its end."""

    job: Job
    log: LogWriter
    compute: str
    folder: Path = field(default_factory=Path)
    target: ComputeTarget | None = None  # once submitted
    target_id: str = ""
    offset: int = 0  # of the target's log, copied up to here
    running: bool = False
    finishing: bool = False
    cancel_by: str | None = None


def target_id(job: Job) -> str:
    """The job's id on its target; each retry is a new submission with an id of its own."""
    base = f"{job.workspace}.{job.name}"
    return base if job.attempt == 1 else f"{base}.r{job.attempt}"


class Execution:
    def __init__(
        self,
        artifacts: ArtifactService,
        environments: EnvironmentService,
        builder: EnvironmentBuilder,
        inputs: InputResolver,
        *,
        tracking_uri: Callable[[], str],
        credentials: ProcessCredentials,
        outputs: OutputRegistrar | None = None,
    ) -> None:
        self.artifacts = artifacts
        self.environments = environments
        self.builder = builder
        self.inputs = inputs
        self.tracking_uri = tracking_uri
        self.credentials = credentials
        self.outputs = outputs
        self._runner: JobRunner | None = None

    def bind(self, runner: JobRunner) -> None:
        self._runner = runner

    @property
    def runner(self) -> JobRunner:
        assert self._runner is not None, "Execution.bind(runner) first"
        return self._runner

    # -- prepare -------------------------------------------------------------------

    def prepare_safely(self, held: Held, compute: Compute) -> None:
        job, runner = held.job, self.runner
        try:
            self._prepare(held, compute)
        except LeaseLost:
            runner.release_slot(held)
        except Exception as exc:
            failure = failure_of(exc)
            if not isinstance(exc, ShipyardError):
                log.exception("preparing job %s failed", job.name)
            runner.system_line(job, f"preparation failed: {failure.message}")
            with contextlib.suppress(LeaseLost):  # another server holds it now
                runner.fail(job, failure)
            runner.release_slot(held)  # a failed preparation frees its slot for the next job

    def _prepare(self, held: Held, compute: Compute) -> None:
        job, runner = held.job, self.runner
        say: Callable[[str], None] = lambda line: runner.system_line(job, line)  # noqa: E731
        folder = held.folder
        if folder.exists():
            shutil.rmtree(folder)  # a requeued job starts from a clean folder
        folder.mkdir(parents=True)
        attempt = f", attempt {job.attempt} of {1 + job.retries}" if job.attempt > 1 else ""
        where = f"compute {compute.name!r} ({compute.kind}){attempt}, server {runner.node.label}"
        say(f"job {job.name} on {where}")
        spec = command_of(job)
        prepared: PreparedInputs = self.inputs.prepare(job, folder, runner.system_line)
        resolved = self.environments.resolve_in(job.workspace, spec.environment)
        # What the target can do decides where the environment is built, not its kind: one
        # that takes a venv's bin folder gets one built here; one that installs pip
        # requirements itself (Ray's runtime_env) gets the requirements.
        target = runner.target(job.workspace, compute)
        builds_here = PYTHON_BIN_DIR in target.capabilities
        runs_in = (
            _describe_env(resolved.source)
            if builds_here
            else _describe_remote_env(compute.kind, resolved.request.requirements)
        )
        if resolved.image:
            say(
                f"image {resolved.image!r} was not used: {compute.kind} targets run no containers;"
                f" the job runs in {runs_in}"
            )
        say(f"environment: {runs_in}")
        built: BuiltEnvironment | None = None
        if builds_here:
            built = self.builder.ensure(resolved.request, log=say)
            if not built.is_server_interpreter:
                hit = "cache hit" if built.cache_hit else f"built in {built.seconds:.1f} s"
                say(f"environment {built.hash}: {hit}")
        command = prepared.render(job.command)
        variables: dict[str, str] = dict(spec.environment_variables)
        granted = self.credentials.for_job(job.workspace, job.name, job.created_by, variables, job.timeout_s)
        variables, secret_env = granted.env, granted.secret_env
        if secret_env:
            say(f"given to the process only, never written to disk: {', '.join(sorted(secret_env))}")
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
        if held.cancel_by is not None:
            self._canceled_before_start(held, held.cancel_by)
            return
        tid = target_id(job)
        say(f"$ {command}")
        held.log.flush()  # the placement's log_start counts only committed bytes
        runner.placement_recorded(
            held,
            {
                "node": runner.node.id,
                "host": runner.node.host,
                "folder": str(folder),
                "state_dir": str(runner.state_dir / job.workspace / compute.name),
                "target_id": tid,
                "log_start": held.log.size,
            },
        )
        target.submit(
            Submission(
                job_id=tid,
                command=command,
                working_dir=prepared.working_dir,
                env=env,
                python_bin_dir=None if built is None or built.is_server_interpreter else built.python.parent,
                pip=tuple(resolved.request.requirements) if PIP in target.capabilities else (),
                timeout_s=job.timeout_s,
                secret_env=secret_env,
            )
        )
        held.target_id, held.target = tid, target  # from here the watch follows it
        late = held.cancel_by
        if late is not None:  # asked while we were submitting
            target.cancel(tid, f"by {late}")
        runner.wake()

    def _canceled_before_start(self, held: Held, who: str) -> None:
        job, runner = held.job, self.runner
        failure = JobFailure(FailureCause.CANCELED, f"canceled by {who} before it started")
        runner.system_line(job, failure.message)
        runner.transition(
            job, JobStatus.CANCELED, failure.message, run=RunStatus.KILLED, failure=failure, canceled_by=who
        )
        runner.release_slot(held)

    # -- finalize ------------------------------------------------------------------

    def finalize_safely(self, held: Held, status: TargetStatus) -> None:
        runner = self.runner
        try:
            self._finalize(held, status)
        except LeaseLost:
            pass
        except Exception as exc:
            log.exception("finalizing job %s failed", held.job.name)
            with contextlib.suppress(LeaseLost):
                runner.fail(held.job, JobFailure(FailureCause.INTERNAL, f"finalizing failed: {exc}"))
        finally:
            runner.release_slot(held)

    def _finalize(self, held: Held, status: TargetStatus) -> None:
        job, runner = held.job, self.runner
        if job.status != JobStatus.FINALIZING:  # adopted mid-finalize: its server died finalizing it
            runner.transition(
                job, JobStatus.FINALIZING, f"the process ended: {status.message or status.state.value}"
            )
        folder = held.folder
        folder.mkdir(parents=True, exist_ok=True)
        std_log = folder / "std_log.txt"
        self._save_target_log(held, std_log)
        with runner.db.read() as uow:
            ref = uow.runs.ref(job.run_id)
        if ref is None:  # the run was deleted under the job
            raise NotFound(f"the run {job.run_id} of job {job.name} is gone")
        self.artifacts.put_local(ref, "user_logs/std_log.txt", std_log, job.created_by)
        if status.state == TargetState.SUCCEEDED:
            self._keep_all_outputs(held, ref)
        tail = _tail(std_log)
        say: Callable[[str], None] = lambda line: runner.system_line(job, line)  # noqa: E731
        who = held.cancel_by or job.canceled_by
        if status.state == TargetState.SUCCEEDED:
            say("completed")
            runner.transition(job, JobStatus.COMPLETED, "completed", run=RunStatus.FINISHED)
        elif status.state == TargetState.CANCELED or who:
            failure = JobFailure(FailureCause.CANCELED, f"canceled by {who or 'the compute target'}")
            say(failure.message)
            runner.transition(
                job, JobStatus.CANCELED, failure.message,
                run=RunStatus.KILLED, failure=failure, canceled_by=who,
            )  # fmt: skip
        elif status.state == TargetState.LOST:
            runner.lost_or_retry(job, status.message or "the process was lost")
        else:
            failure = _target_failure(status, tail)
            say(f"failed: {failure.message}")
            runner.fail(job, failure)

    def _keep_all_outputs(self, held: Held, ref: RunRef) -> None:
        job, runner, folder = held.job, self.runner, held.folder
        if not folder.is_dir():
            runner.system_line(job, f"outputs not kept: the job's folder {folder} is not on this machine")
            return
        # ./outputs of the working directory first (Azure ML's convention), then the named
        # outputs, so a named output wins over a file of the same path.
        self._keep_outputs(ref, folder / "code" / "outputs", folder / "code" / "outputs", job)
        outputs = folder / "outputs"
        for name in sorted(command_of(job).outputs):
            self._keep_outputs(ref, outputs / name, outputs, job)
        if self.outputs is not None:
            submitter = self.credentials.acting_as(job.created_by, job.workspace)
            self.outputs.register(job, outputs, lambda line: runner.system_line(job, line), submitter)

    def _keep_outputs(self, ref: RunRef, source: Path, base: Path, job: Job) -> None:
        """Every regular file under ``source`` as the run's ``outputs/<path from base>``."""
        if not source.is_dir() or source.is_symlink():
            return
        for path in sorted(source.rglob("*")):
            if path.is_file() and not path.is_symlink():
                rel = path.relative_to(base).as_posix()
                self.artifacts.put_local(ref, f"outputs/{rel}", path, job.created_by)

    def _save_target_log(self, held: Held, dest: Path) -> None:
        assert held.target is not None
        offset = 0
        with dest.open("wb") as out:
            while True:
                chunk = held.target.logs(held.target_id, offset)
                out.write(chunk.data)
                offset = chunk.next_offset
                if not chunk.data:
                    break


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


def failure_of(exc: Exception) -> JobFailure:
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
