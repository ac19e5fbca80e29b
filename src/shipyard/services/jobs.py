"""Jobs: create (validated whole before anything is written), read, list, cancel, follow logs.

A job is created with its run in one transaction, in ``Queued``; the
:class:`~shipyard.services.job_runner.JobRunner` of whichever server claims it takes it
from there. Canceling a running job records the request; the server holding it stops it.
Everything a job needs is checked here first — environment, compute target, data assets,
the runs an input reads from, the ``${{…}}`` bindings — so a bad job file fails with a
clear 4xx and leaves nothing half-created.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from shipyard.domain.context import RequestContext
from shipyard.domain.jobs import (
    TERMINAL,
    Compute,
    FailureCause,
    Job,
    JobEvent,
    JobFailure,
    JobStatus,
    check_transition,
    new_job_name,
)
from shipyard.domain.pagination import decode_token, encode_token, fingerprint
from shipyard.domain.tracking import RunStatus
from shipyard.domain.validation import check_name
from shipyard.errors import AlreadyExists, InvalidArgument, NotFound, PayloadTooLarge
from shipyard.services._clock import now_ms
from shipyard.services.access.secrets import SecretService
from shipyard.services.job_assets import LOCAL_COMPUTE, ComputeService, EnvironmentService
from shipyard.services.job_inputs import find_data_asset, find_model_version
from shipyard.services.job_ports import JobControl
from shipyard.services.job_remote import RemoteInputs
from shipyard.services.log_streams import LogStreams, job_log_stream
from shipyard.services.ports import Database, UnitOfWork
from shipyard.services.snapshots import SnapshotService
from shipyard.services.tracking import TrackingService

__all__ = [
    "EnvironmentChoice",
    "InputValue",
    "JobService",
    "JobSubmission",
    "ParentSubmission",
    "ResourceProblem",
    "command_of",
    "missing_resources",
]

InputKind = Literal["literal", "snapshot", "data", "model", "run", "url"]
_JOB_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
MAX_JOBS_PAGE = 1000
MAX_RETRIES = 10


@dataclass(frozen=True, slots=True)
class InputValue:
    """One resolved job input. ``value`` by kind: literal text; a snapshot digest (local files
    the client uploaded); ``name:version`` or ``name@label`` of a data asset, or of a
    registered model (an ``mlflow_model``/``custom_model`` input); ``<run_id>/<path>`` of a
    run's artifact; an fsspec URL."""

    kind: InputKind
    value: str
    type: str = "string"


@dataclass(frozen=True, slots=True)
class EnvironmentChoice:
    """A registered environment (``name`` with ``version`` or ``label``) or an inline one."""

    name: str | None = None
    version: str | None = None
    label: str | None = None
    python: str | None = None
    requirements: tuple[str, ...] = ()
    image: str | None = None
    registry: str | None = None  # azureml://registries/<registry>/…: 'azureml' is Microsoft's curated


@dataclass(frozen=True, slots=True)
class JobSubmission:
    command: str  # with ${{inputs.x}} / ${{outputs.y}} still in it
    inputs: Mapping[str, InputValue] = field(default_factory=dict)
    outputs: Mapping[str, str] = field(default_factory=dict)  # name → type
    code_digest: str | None = None
    environment: EnvironmentChoice = field(default_factory=EnvironmentChoice)
    compute: str = LOCAL_COMPUTE
    environment_variables: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float | None = None
    retries: int = 0  # attempts after the first when the process is lost with its server
    name: str | None = None
    display_name: str | None = None
    experiment_name: str = "Default"
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    git: Mapping[str, str] = field(default_factory=dict)
    spec: Mapping[str, Any] = field(default_factory=dict)  # the submitted file, for `job show`

    def to_json(self) -> dict[str, Any]:
        """Plain JSON: a composite job keeps its children's template in its own spec."""
        return {
            "command": self.command,
            "inputs": {k: {"kind": v.kind, "value": v.value, "type": v.type} for k, v in self.inputs.items()},
            "outputs": dict(self.outputs),
            "code_digest": self.code_digest,
            "environment": _environment_json(self.environment),
            "compute": self.compute,
            "environment_variables": dict(self.environment_variables),
            "timeout_s": self.timeout_s,
            "retries": self.retries,
            "name": self.name,
            "display_name": self.display_name,
            "experiment_name": self.experiment_name,
            "description": self.description,
            "tags": dict(self.tags),
            "git": dict(self.git),
            "spec": dict(self.spec),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobSubmission:
        env = data.get("environment") or {}
        return cls(
            command=data["command"],
            inputs={
                k: InputValue(v["kind"], v["value"], v.get("type", "string"))
                for k, v in data["inputs"].items()
            },
            outputs=dict(data.get("outputs") or {}),
            code_digest=data.get("code_digest"),
            environment=EnvironmentChoice(
                name=env.get("name"),
                version=env.get("version"),
                label=env.get("label"),
                python=env.get("python"),
                requirements=tuple(env.get("requirements") or ()),
                image=env.get("image"),
                registry=env.get("registry"),
            ),
            compute=data.get("compute") or LOCAL_COMPUTE,
            environment_variables=dict(data.get("environment_variables") or {}),
            timeout_s=data.get("timeout_s"),
            retries=int(data.get("retries") or 0),
            name=data.get("name"),
            display_name=data.get("display_name"),
            experiment_name=data.get("experiment_name") or "Default",
            description=data.get("description") or "",
            tags=dict(data.get("tags") or {}),
            git=dict(data.get("git") or {}),
            spec=dict(data.get("spec") or {}),
        )


@dataclass(frozen=True, slots=True)
class ParentSubmission:
    """A composite job (sweep, pipeline): no command of its own; ``spec`` is what its type
    keeps to expand it (its typed file and its children's templates), ``compute`` the
    default compute its children run on."""

    type: str
    spec: Mapping[str, Any]
    compute: str = LOCAL_COMPUTE
    name: str | None = None
    display_name: str | None = None
    experiment_name: str = "Default"
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float | None = None
    summary: str = ""  # shown where a command job shows its command


def _environment_json(env: EnvironmentChoice) -> dict[str, Any]:
    return {
        "name": env.name,
        "version": env.version,
        "label": env.label,
        "registry": env.registry,
        "python": env.python,
        "requirements": list(env.requirements),
        "image": env.image,
    }


class JobService:
    def __init__(
        self,
        db: Database,
        environments: EnvironmentService,
        computes: ComputeService,
        jobs_dir: Path,
        logs: LogStreams,
        control: JobControl | None = None,
        *,
        snapshots: SnapshotService | None = None,
        max_code_bytes: int | None = None,
        secrets: SecretService | None = None,
    ) -> None:
        self.db = db
        self.secrets = secrets  # checks ${{secrets.…}} references at submission
        self.snapshots = snapshots
        self.max_code_bytes = max_code_bytes
        self.environments = environments
        self.computes = computes
        self.jobs_dir = jobs_dir  # the logs of jobs from before they were kept as chunks
        self.logs = logs
        self.control = control  # this process's runner, woken at once (None: no jobs role)

    # -- create --------------------------------------------------------------------

    def check(self, ctx: RequestContext, sub: JobSubmission) -> None:
        """What :meth:`create` checks before it writes anything, but the uploads: a client
        asks this before uploading code, so a missing resource costs no upload."""
        self._check_submission(ctx, sub)
        self._check_resources(ctx, sub)

    def create(
        self, ctx: RequestContext, sub: JobSubmission, *, parent: Job | None = None, step: str | None = None
    ) -> Job:
        """A command job, queued. With ``parent``: a child (``step`` is its place in the
        parent) in the parent's experiment, its run a child of the parent's run; creating a
        step that exists returns the existing child."""
        if parent is not None:
            assert step is not None, "a child job has a step"
            sub = replace(
                sub,
                name=child_name(parent.name, step),  # a child's name is its parent's and step's
                experiment_name=str(parent.spec.get("experiment_name") or sub.experiment_name),
            )
        name, display = self._check_submission(ctx, sub)
        compute, env_hash = self._check_resources(ctx, sub)
        self._check_snapshots(sub)
        now = now_ms()
        run_id = uuid.uuid4().hex
        tags = {
            **sub.tags,
            "shipyard.job.name": name,
            "shipyard.job.compute": compute.name,
            "mlflow.user": ctx.principal.name,
            "mlflow.source.type": "JOB",
            "mlflow.source.name": sub.command[:500],
        }
        if sub.git.get("commit"):
            tags["mlflow.source.git.commit"] = sub.git["commit"]
        if sub.git.get("branch"):
            tags["mlflow.source.git.branch"] = sub.git["branch"]
        if sub.git.get("remote"):
            tags["mlflow.source.git.repoURL"] = sub.git["remote"]
        if sub.code_digest:
            tags["shipyard.job.code_digest"] = sub.code_digest
        spec = {
            "command": sub.command,
            "inputs": {k: {"kind": v.kind, "value": v.value, "type": v.type} for k, v in sub.inputs.items()},
            "outputs": dict(sub.outputs),
            "environment": _environment_json(sub.environment),
            "environment_variables": dict(sub.environment_variables),
            "experiment_name": sub.experiment_name,
            "retries": sub.retries,
            "description": sub.description,
            "tags": dict(sub.tags),
            "git": dict(sub.git),
            "file": dict(sub.spec),
        }
        if parent is not None:
            tags["mlflow.parentRunId"] = parent.run_id
            tags["shipyard.job.parent"] = parent.name
            tags["shipyard.job.step"] = str(step)
        try:
            with self.db.write() as uow:
                ws, experiment_pk = _job_run(
                    uow, ctx, sub.experiment_name, run_id, display, tags, now,
                    parent_run_id=None if parent is None else parent.run_id,
                )  # fmt: skip
                job = Job(
                    name=name,
                    workspace=ctx.workspace,
                    display_name=display,
                    experiment_id=str(experiment_pk),
                    run_id=run_id,
                    status=JobStatus.QUEUED,
                    compute=compute.name,
                    command=sub.command,
                    spec=spec,
                    code_digest=sub.code_digest,
                    environment_hash=env_hash,
                    timeout_s=sub.timeout_s,
                    created_at=now,
                    created_by=ctx.principal.name,
                    updated_at=now,
                    events=[
                        JobEvent(JobStatus.NOT_STARTED, now, "created"),
                        JobEvent(JobStatus.QUEUED, now, f"waiting for a slot on compute {compute.name!r}"),
                    ],
                    parent=None if parent is None else parent.name,
                    step=step,
                )
                uow.jobs.create(ws, experiment_pk, job)
        except AlreadyExists:
            # A step created before (by a server that held the parent before this one): it
            # is the step's job; this transaction, run and all, is undone. Anything else
            # taking the name is a clash to report.
            existing = None if parent is None else self._child(ctx, parent, str(step))
            if existing is None:
                raise
            return existing
        if self.control is not None:
            self.control.wake()
        return job  # as stored: read back it is the same

    def create_parent(self, ctx: RequestContext, sub: ParentSubmission) -> Job:
        """A composite job (its type's plug-in checked it), queued for an orchestrator."""
        name = sub.name or new_job_name()
        _check_job_name(name)
        check_name("experiment", sub.experiment_name)
        display = sub.display_name or name
        check_name("display_name", display)
        TrackingService._check_tags(dict(sub.tags))
        if sub.timeout_s is not None and sub.timeout_s <= 0:
            raise InvalidArgument(f"limits.timeout must be a positive number of seconds; got {sub.timeout_s}")
        now = now_ms()
        run_id = uuid.uuid4().hex
        tags = {
            **sub.tags,
            "shipyard.job.name": name,
            "shipyard.job.type": sub.type,
            "mlflow.user": ctx.principal.name,
            "mlflow.source.type": "JOB",
            "mlflow.source.name": f"{sub.type} job {name}",
        }
        with self.db.write() as uow:
            ws, experiment_pk = _job_run(uow, ctx, sub.experiment_name, run_id, display, tags, now)
            job = Job(
                name=name,
                workspace=ctx.workspace,
                display_name=display,
                experiment_id=str(experiment_pk),
                run_id=run_id,
                status=JobStatus.QUEUED,
                compute=sub.compute,
                command=sub.summary or f"{sub.type} job",
                spec={**sub.spec, "experiment_name": sub.experiment_name},
                code_digest=None,
                environment_hash=None,
                timeout_s=sub.timeout_s,
                created_at=now,
                created_by=ctx.principal.name,
                updated_at=now,
                events=[
                    JobEvent(JobStatus.NOT_STARTED, now, "created"),
                    JobEvent(JobStatus.QUEUED, now, f"waiting for a server to start its {sub.type}"),
                ],
                type=sub.type,
                leaf=False,
            )
            uow.jobs.create(ws, experiment_pk, job)
        if self.control is not None:
            self.control.wake()
        return job  # as stored: read back it is the same

    def _child(self, ctx: RequestContext, parent: Job, step: str) -> Job | None:
        """The parent's child at ``step``, if it was created (its name is the step's)."""
        with self.db.read() as uow:
            child = uow.jobs.get(ctx.workspace, child_name(parent.name, step))
        return child if child is not None and child.parent == parent.name else None

    def children(self, ctx: RequestContext, name: str) -> list[Job]:
        """A composite job's children, oldest first (404 for an unknown job)."""
        self.get(ctx, name)
        with self.db.read() as uow:
            return uow.jobs.children(ctx.workspace, name)

    def _check_submission(self, ctx: RequestContext, sub: JobSubmission) -> tuple[str, str]:
        """The job's own values; its name and display name."""
        name = sub.name or new_job_name()
        _check_job_name(name)
        check_name("experiment", sub.experiment_name)
        display = sub.display_name or name
        check_name("display_name", display)
        TrackingService._check_tags(dict(sub.tags))
        if sub.timeout_s is not None and sub.timeout_s <= 0:
            raise InvalidArgument(f"limits.timeout must be a positive number of seconds; got {sub.timeout_s}")
        if not 0 <= sub.retries <= MAX_RETRIES:
            raise InvalidArgument(f"retries must be between 0 and {MAX_RETRIES}; got {sub.retries}")
        for key in sub.environment_variables:
            if not key or "=" in key or key.startswith("SHIPYARD_INTERNAL"):
                raise InvalidArgument(f"environment variable name {key!r} is not allowed")
        if self.secrets is not None:
            self.secrets.check_refs(
                ctx, sub.environment_variables.values(), "the job's environment_variables"
            )
        return name, display

    def _check_resources(self, ctx: RequestContext, sub: JobSubmission) -> tuple[Compute, str]:
        """The compute target, environment, data assets, runs and URLs the job names — every
        one that is missing or unreadable reported at once, each with its field of the file."""
        problems: list[ResourceProblem] = []
        compute: Compute | None = None
        env_hash = ""
        try:
            compute = self.computes.resolve(ctx, sub.compute)
        except (NotFound, InvalidArgument) as exc:
            problems.append(ResourceProblem("compute", exc))
        try:
            env_hash = self.environments.resolve(ctx, sub.environment).spec_hash
        except (NotFound, InvalidArgument) as exc:
            problems.append(ResourceProblem("environment", exc))
        problems.extend(self._input_problems(ctx, sub.inputs))
        if problems:
            raise missing_resources(problems, ctx.workspace)
        assert compute is not None
        return compute, env_hash

    def _input_problems(self, ctx: RequestContext, inputs: Mapping[str, InputValue]) -> list[ResourceProblem]:
        problems: list[ResourceProblem] = []
        with self.db.read() as uow:
            for key, item in inputs.items():
                field = f"inputs.{key}.path"
                try:
                    if item.kind == "run":
                        run_id = item.value.partition("/")[0]
                        ref = uow.runs.ref(run_id)
                        if ref is None or ref.workspace != ctx.workspace:
                            raise NotFound(
                                f"input {key!r}: no run {run_id!r} in this workspace"
                                " (`shipyard run list` shows the runs there are)",
                                input=key,
                            )
                    elif item.kind == "data":
                        asset = find_data_asset(uow, ctx.workspace, key, item.value)
                        if not asset.content_hash:
                            RemoteInputs.check(asset.path, f"input {key!r} (data asset {item.value})")
                    elif item.kind == "url":
                        RemoteInputs.check(item.value, f"input {key!r}")
                    elif item.kind == "model":
                        find_model_version(self.db, ctx, key, item.value)
                except (NotFound, InvalidArgument) as exc:
                    problems.append(ResourceProblem(field, exc))
        return problems

    def _check_snapshots(self, sub: JobSubmission) -> None:
        """The code and uploaded inputs exist (an unknown digest is a 404 now, not a failed job
        later) and the code is within the server's limit."""
        if self.snapshots is None:
            return
        if sub.code_digest:
            code = self.snapshots.manifest(sub.code_digest)
            if self.max_code_bytes is not None and code.size > self.max_code_bytes:
                raise PayloadTooLarge(
                    f"the code snapshot is {code.size:,} bytes; this server takes at most"
                    f" {self.max_code_bytes:,} (SHIPYARD_MAX_CODE_BYTES): leave data and models out"
                    " of the code folder (.amlignore) and pass them as inputs"
                )
        for key, item in sub.inputs.items():
            if item.kind == "snapshot":
                try:
                    self.snapshots.manifest(item.value)
                except NotFound:
                    raise NotFound(f"input {key!r}: no uploaded snapshot {item.value!r}", input=key) from None

    # -- read ----------------------------------------------------------------------

    def get(self, ctx: RequestContext, name: str) -> Job:
        with self.db.read() as uow:
            job = uow.jobs.get(ctx.workspace, name)
        if job is None:
            raise NotFound(f"no job named {name!r} in workspace {ctx.workspace!r}", name=name)
        return job

    def list(
        self,
        ctx: RequestContext,
        statuses: set[JobStatus] | None = None,
        max_results: int = 100,
        page_token: str | None = None,
        parent: str | None = None,
    ) -> tuple[list[Job], str | None]:
        """Top-level jobs, newest first; or the children of ``parent``."""
        if not 1 <= max_results <= MAX_JOBS_PAGE:
            raise InvalidArgument(f"max_results must be between 1 and {MAX_JOBS_PAGE}")
        if parent is not None:
            self.get(ctx, parent)
        query = fingerprint("jobs", ctx.workspace, sorted(statuses or ()), parent or "")
        offset = decode_token(page_token, query) or 0
        if not isinstance(offset, int) or offset < 0:
            raise InvalidArgument("page_token is not a token this server issued")
        with self.db.read() as uow:
            found = uow.jobs.list(ctx.workspace, statuses, offset, max_results + 1, parent)
        token = encode_token(query, offset + max_results) if len(found) > max_results else None
        return found[:max_results], token

    # -- cancel --------------------------------------------------------------------

    def cancel(self, ctx: RequestContext, name: str, *, reason: str | None = None) -> Job:
        """Queued jobs stop at once; for others the request is recorded, and the server
        holding the job (this one or another) stops its process tree; the job ends
        ``Canceled`` once it is gone. A composite job's children are stopped first.
        ``reason``: why, said beside who (a sweep's pruning rule)."""
        job = self.get(ctx, name)
        if job.status in TERMINAL:
            return job
        who = ctx.principal.name if reason is None else f"{ctx.principal.name} ({reason})"[:256]
        now = now_ms()
        if job.status in (JobStatus.NOT_STARTED, JobStatus.QUEUED):
            with self.db.write() as uow:
                current = uow.jobs.get(ctx.workspace, name)
                assert current is not None
                if current.status in (JobStatus.NOT_STARTED, JobStatus.QUEUED):
                    check_transition(current.status, JobStatus.CANCELED)
                    failure = JobFailure(FailureCause.CANCELED, f"canceled by {who} before it started")
                    uow.jobs.set_status(
                        ctx.workspace, name, JobStatus.CANCELED, now, failure.message,
                        failure=failure, canceled_by=who,
                    )  # fmt: skip
                    _end_run(uow, current.run_id, RunStatus.KILLED, who, now)
                    return self.get(ctx, name)
        with self.db.write() as uow:
            uow.jobs.record_cancel_request(ctx.workspace, name, who)
        if self.control is not None:
            self.control.wake()
        return self.get(ctx, name)

    # -- logs ----------------------------------------------------------------------

    def read_log(
        self, ctx: RequestContext, name: str, offset: int, limit: int = 1 << 20
    ) -> tuple[bytes, Job]:
        """Bytes of the job's log from ``offset`` (preparation lines, then the process's
        output), as committed by whichever server runs it; the job as it was before the
        read, so a follower that sees it ended and gets nothing has read everything."""
        if offset < 0:
            raise InvalidArgument("offset must be >= 0")
        job = self.get(ctx, name)
        data = self.logs.read(job_log_stream(job.workspace, job.name), offset, limit)
        if data:
            return data, job
        return self._legacy_log(job, offset, limit), job

    def _legacy_log(self, job: Job, offset: int, limit: int) -> bytes:
        """A job run by a server from before logs were kept as chunks: its file on this one."""
        path = job_dir(self.jobs_dir, job.workspace, job.name) / "stream.log"
        try:
            with path.open("rb") as handle:
                if offset >= os.fstat(handle.fileno()).st_size:
                    return b""  # nothing there; and seek() refuses offsets past 2**63
                handle.seek(offset)
                return handle.read(limit)
        except FileNotFoundError:
            return b""


@dataclass(frozen=True, slots=True)
class ResourceProblem:
    """A resource a spec names that is missing (NotFound) or cannot be used (InvalidArgument);
    ``field`` is where the file names it (``compute``, ``inputs.iris.path``)."""

    field: str
    error: NotFound | InvalidArgument


def missing_resources(problems: list[ResourceProblem], workspace: str) -> NotFound | InvalidArgument:
    """One error for every problem: NotFound when each is a missing resource, else
    InvalidArgument; ``details.problems`` holds ``{field, code, message}`` for each, so a
    client can point at the line of every field in its file."""
    listed = [{"field": p.field, "code": p.error.code, "message": p.error.message} for p in problems]
    if len(problems) == 1:
        message = problems[0].error.message
    else:
        lines = "\n  ".join(f"{p.field}: {p.error.message}" for p in problems)
        message = f"{len(problems)} problems with what the file names in workspace {workspace!r}:\n  {lines}"
    if all(isinstance(p.error, NotFound) for p in problems):
        return NotFound(message, problems=listed)
    return InvalidArgument(message, problems=listed)


def job_dir(jobs_dir: Path, workspace: str, name: str) -> Path:
    return jobs_dir / workspace / name


def _check_job_name(name: str) -> None:
    check_name("job", name)  # an invisible character is named by its code point
    if not (1 <= len(name) <= 100) or not set(name) <= _JOB_NAME_CHARS or not name[0].isalnum():
        raise InvalidArgument(
            f"job name {name!r} must be 1-100 letters, digits, '_' or '-', starting with a letter or digit"
        )


def command_of(job: Job) -> JobSubmission:
    """A command job's stored spec, typed: what the runner reads (never string keys)."""
    return JobSubmission.from_json(
        {
            **job.spec,
            "inputs": job.spec.get("inputs") or {},
            "code_digest": job.code_digest,
            "compute": job.compute,
            "timeout_s": job.timeout_s,
            "name": job.name,
            "display_name": job.display_name,
            "spec": job.spec.get("file") or {},
        }
    )


def child_name(parent: str, step: str) -> str:
    """``<parent>-<step>``, shortened with a digest when it would pass the 100-character limit."""
    name = f"{parent}-{step.replace('.', '_')}"
    if len(name) <= 100:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{name[:89]}-{digest}"


def _job_run(
    uow: UnitOfWork,
    ctx: RequestContext,
    experiment_name: str,
    run_id: str,
    display: str,
    tags: Mapping[str, str],
    now: int,
    *,
    parent_run_id: str | None = None,
) -> tuple[int, int]:
    """The run of a new job (in ``experiment_name``, made if missing); the workspace's and
    the experiment's keys."""
    ws = uow.workspaces.ensure(ctx.workspace, ctx.principal.name, now)
    experiment = uow.experiments.get_by_name(ctx.workspace, experiment_name)
    if experiment is None:
        experiment = uow.experiments.create(ws, experiment_name, ctx.workspace, {}, ctx.principal.name, now)
    if experiment.lifecycle_stage != "active":
        raise InvalidArgument(f"experiment {experiment_name!r} is deleted; restore it first")
    TrackingService.add_run(
        uow, experiment, run_id=run_id, name=display, status=RunStatus.SCHEDULED, start_time=now,
        tags=dict(tags), actor=ctx.principal.name, now=now, parent_run_id=parent_run_id,
    )  # fmt: skip
    return ws, int(experiment.id)


def _end_run(uow: UnitOfWork, run_id: str, status: RunStatus, actor: str, now: int) -> None:
    ref = uow.runs.ref(run_id)
    if ref is not None:
        uow.runs.update(ref, actor=actor, now=now, status=str(status), end_time=now)
