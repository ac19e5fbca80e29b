"""Jobs, environments and compute targets over HTTP (``client.jobs``, ``client.environments``,
``client.computes``), the way Azure ML's ``MLClient`` groups its operations."""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.client._deploy_files import add_environment, say_notes, upload
from shipyard.client._paths import q
from shipyard.domain.jobs import (
    TERMINAL,
    Compute,
    Environment,
    FailureCause,
    Job,
    JobEvent,
    JobFailure,
    JobStatus,
)
from shipyard.errors import InvalidArgument, InvalidSpec, NotFound, PermissionDenied, ShipyardError

if TYPE_CHECKING:
    from shipyard.client.client import Client, Progress
    from shipyard.specs.loaded import LoadedComposite, LoadedJob

__all__ = ["ComputeOperations", "EnvironmentOperations", "JobOperations", "SubmitStep"]

SubmitStep = Callable[[str], None]
"""Told what ``create`` is doing ("uploading code …"), for a CLI to show."""


def job_from_json(data: dict[str, Any]) -> Job:
    failure = data.get("failure")
    return Job(
        name=data["name"],
        workspace="",
        display_name=data["display_name"],
        experiment_id=data["experiment_id"],
        run_id=data["run_id"],
        status=JobStatus(data["status"]),
        compute=data["compute"],
        command=data["command"],
        spec=data.get("spec") or {},
        code_digest=data.get("code_digest"),
        environment_hash=data.get("environment_hash"),
        timeout_s=data.get("timeout_s"),
        created_at=data["created_at"],
        created_by=data["created_by"],
        updated_at=data["updated_at"],
        failure=None
        if not failure
        else JobFailure(
            FailureCause(failure["cause"]),
            failure["message"],
            failure.get("exit_code"),
            failure.get("log_tail", ""),
        ),
        canceled_by=data.get("canceled_by"),
        events=[JobEvent(JobStatus(e["status"]), e["at"], e["message"]) for e in data.get("events", [])],
        type=data.get("type") or "command",
        parent=data.get("parent"),
        step=data.get("step"),
        leaf=(data.get("type") or "command") == "command",
        report=data.get("report") or {},
    )


class JobOperations:
    def __init__(self, client: Client) -> None:
        self._client = client
        self._http = client.http

    def create(
        self,
        path: str | Path,
        overrides: list[str] | tuple[str, ...] = (),
        *,
        step: SubmitStep | None = None,
        progress: Progress | None = None,
    ) -> Job:
        """Read ``path`` (an Azure ML job file: command, sweep or pipeline), upload its code
        and local inputs (only what the server lacks), submit it. Every problem with the file
        is raised as :class:`~shipyard.errors.InvalidSpec` before anything is uploaded."""
        from shipyard.specs.loaded import LoadedComposite, load_any

        loaded = load_any(Path(path), overrides)
        if isinstance(loaded, LoadedComposite):
            return self.submit_composite(loaded, step=step, progress=progress)
        return self.submit(loaded, step=step, progress=progress)

    def submit(
        self, loaded: LoadedJob, *, step: SubmitStep | None = None, progress: Progress | None = None
    ) -> Job:
        body = self.prepare_body(loaded, step=step, progress=progress)
        return job_from_json(self._http.request("POST", "/api/v1/jobs", json=body))

    def submit_composite(
        self, loaded: LoadedComposite, *, step: SubmitStep | None = None, progress: Progress | None = None
    ) -> Job:
        """A sweep or a pipeline: each part (a sweep's trial, a pipeline's steps) uploaded as
        a command job's would be; the file's own mapping sent for the server to read again."""
        body = self.prepare_body(loaded, step=step, progress=progress)
        return job_from_json(self._http.request("POST", "/api/v1/jobs", json=body))

    def prepare_body(
        self,
        loaded: LoadedJob | LoadedComposite,
        *,
        step: SubmitStep | None = None,
        progress: Progress | None = None,
        check: bool = True,
    ) -> dict[str, Any]:
        """The body of ``POST /api/v1/jobs`` for a loaded job file: its code and local inputs
        uploaded (only what the server lacks), after asking the server (``check``) whether
        everything it names exists. A schedule sends the same body for the job it fires."""
        from shipyard.specs.loaded import LoadedComposite
        from shipyard.specs.refs import LocalPathRef

        say = step or (lambda _line: None)
        # The server validates the file's own mapping again (a re-serialised model would drop
        # an output declared as `model:` with no body).
        body: dict[str, Any] = {"spec": dict(loaded.raw), "source": loaded.source.name}
        if not isinstance(loaded, LoadedComposite):
            add_environment(body, loaded.environment)
            if check:
                self._check(loaded.raw, loaded.source, body)
            body.update(self._uploads(loaded, say, progress))
            say_notes(loaded.notes, say)
            return body
        body["steps"] = {}
        top = loaded.parts.get("")
        if top is not None:
            add_environment(body, top.environment)
        for name, part in loaded.parts.items():
            if name:
                entry: dict[str, Any] = {}
                add_environment(entry, part.environment)
                body["steps"][name] = entry
        if check:
            self._check(loaded.raw, loaded.source, body)
        for name, part in loaded.parts.items():
            uploaded = self._uploads(part, say, progress, what=f"step {name}: " if name else "")
            git = uploaded.pop("git", None)
            if git and (not name or "git" not in body):
                body["git"] = git  # the trial's, else the first step's: the commit the job ran
            if name:
                body["steps"][name].update(uploaded)
            else:
                body.update(uploaded)
        snapshots: dict[str, str] = dict(body.get("input_snapshots") or {})
        for name, item in loaded.inputs.items():
            if isinstance(item.ref, LocalPathRef):
                snapshots[name] = upload(self._client, item.ref.path, f"input {name}", say, progress)
        body["input_snapshots"] = snapshots
        say_notes(loaded.notes, say)
        return body

    def _uploads(
        self, loaded: LoadedJob, say: SubmitStep, progress: Progress | None, *, what: str = ""
    ) -> dict[str, Any]:
        """Upload a command job's (or a part's) code and local inputs: the body's fields."""
        from shipyard.specs.git import git_info
        from shipyard.specs.refs import LocalPathRef
        from shipyard.specs.snapshot import DEFAULT_SIZE_LIMIT as code_limit

        fields: dict[str, Any] = {}
        if loaded.code is not None:
            fields["code_snapshot"] = upload(
                self._client, loaded.code, f"{what}code", say, progress, max_bytes=code_limit
            )
            info = git_info(loaded.code)
            if info is not None:
                found = {"commit": info.commit, "branch": info.branch, "remote": info.remote_url}
                fields["git"] = {k: v for k, v in found.items() if v} | {"dirty": str(info.dirty).lower()}
        snapshots: dict[str, str] = {}
        for name, item in loaded.inputs.items():
            if isinstance(item.ref, LocalPathRef):
                snapshots[name] = upload(self._client, item.ref.path, f"{what}input {name}", say, progress)
        fields["input_snapshots"] = snapshots
        return fields

    def _check(self, raw: Mapping[str, Any], source: Path, body: dict[str, Any]) -> None:
        """Ask the server whether everything the file names exists, before any upload; every
        missing resource is raised at once, each with its line in the file."""
        try:
            self._http.request("POST", "/api/v1/jobs/check", json=body)
        except PermissionDenied:
            return  # a role that may submit jobs but not read them: the submission reports the same
        except (NotFound, InvalidArgument) as exc:
            raise _in_file(exc, raw, source) from None

    def get(self, name: str) -> Job:
        return job_from_json(self._http.request("GET", f"/api/v1/jobs/{q(name)}"))

    def list(
        self, statuses: builtins.list[str] | None = None, max_results: int = 100, *, parent: str | None = None
    ) -> builtins.list[Job]:
        """Top-level jobs, newest first; with ``parent``, the children of that sweep or pipeline."""
        params: dict[str, Any] = {"max_results": max_results}
        if statuses:
            params["status"] = statuses
        if parent is not None:
            params["parent"] = parent
        data = self._http.request("GET", "/api/v1/jobs", params=params)
        return [job_from_json(j) for j in data["jobs"]]

    def cancel(self, name: str) -> Job:
        return job_from_json(self._http.request("POST", f"/api/v1/jobs/{q(name)}/cancel"))

    def stream(self, name: str, *, offset: int = 0, follow: bool = True) -> Iterator[bytes]:
        """The job's log as it is written; with ``follow`` until the job ends. A dropped
        connection is resumed from the last byte received."""
        from shipyard.client._http import raise_for

        while True:
            try:
                params = {"offset": offset, "follow": "true" if follow else "false"}
                with self._http.stream(
                    "GET", f"/api/v1/jobs/{q(name)}/logs", params=params, timeout=None
                ) as resp:
                    raise_for(resp)
                    for chunk in resp.iter_bytes():
                        offset += len(chunk)
                        yield chunk
                return
            except _transport_errors():
                if not follow:
                    raise
                time.sleep(0.5)

    def wait(self, name: str, *, poll_s: float = 0.5, timeout_s: float | None = None) -> Job:
        """Block until the job reaches Completed, Failed or Canceled."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            job = self.get(name)
            if job.status in TERMINAL:
                return job
            if deadline is not None and time.monotonic() > deadline:
                return job
            time.sleep(poll_s)

    def download(self, name: str, dest: str | Path, output_name: str | None = None) -> builtins.list[Path]:
        """The job's named outputs (or one of them) and its logs, into ``dest``."""
        job = self.get(name)
        outputs = list(job.spec.get("outputs", {}))
        if output_name is not None and output_name not in outputs:
            raise InvalidArgument(
                f"job {name} has no output {output_name!r}; its outputs: {', '.join(outputs) or 'none'}"
            )
        prefixes = (
            [f"outputs/{output_name}"] if output_name else ["user_logs", *(f"outputs/{o}" for o in outputs)]
        )
        written: builtins.list[Path] = []
        for prefix in prefixes:
            for path in self._client.walk_artifacts(job.run_id, prefix):
                written.append(self._client.download_artifact(job.run_id, path, Path(dest) / name / path))
        return written


def _in_file(exc: NotFound | InvalidArgument, raw: Mapping[str, Any], path: Path) -> ShipyardError:
    """The server's list of problems (``details.problems``), each placed at its line."""
    from shipyard.specs._yaml import field_line

    problems = exc.details.get("problems")
    if not isinstance(problems, builtins.list) or not problems:
        return exc
    source = str(path)
    placed: builtins.list[dict[str, Any]] = []
    for problem in problems:
        field = str(problem.get("field") or "")
        line = field_line(raw, field) if field else None
        where = f"{source} line {line}" if line else source
        placed.append({**problem, "file": source, "line": line, "text": f"{where}: {problem.get('message')}"})
    if len(placed) == 1:
        message = str(placed[0]["text"])
    else:
        listed = "\n  ".join(str(p["text"]) for p in placed)
        message = (
            f"{len(placed)} things this job names are missing or cannot be used"
            f" (nothing was uploaded):\n  {listed}"
        )
    return type(exc)(message, **{**exc.details, "problems": placed})


def _transport_errors() -> tuple[type[BaseException], ...]:
    import httpx

    return (httpx.TransportError,)


def _environment_from_json(data: dict[str, Any]) -> Environment:
    return Environment(
        name=data["name"],
        version=data["version"],
        spec=data["spec"],
        spec_hash=data["spec_hash"],
        description=data["description"],
        tags=data["tags"],
        created_at=data["created_at"],
        created_by=data["created_by"],
    )


class EnvironmentOperations:
    def __init__(self, client: Client) -> None:
        self._http = client.http

    def create(
        self, path: str | Path, overrides: list[str] | tuple[str, ...] = (), *, step: SubmitStep | None = None
    ) -> Environment:
        """Register an environment file (name, version, conda_file / pip_requirements / build,
        image), read as Azure ML writes it; what is left out is told to ``step``."""
        from shipyard.specs._yaml import LoadedText
        from shipyard.specs.environment import EnvironmentSpec, resolve_environment

        source = Path(path)
        text = LoadedText.read(source, EnvironmentSpec, overrides)
        spec = text.validate(EnvironmentSpec)
        try:
            env = resolve_environment(spec, source.resolve().parent)
        except InvalidSpec as exc:
            raise text.locate(exc) from None
        say_notes(env.notes, step or (lambda _line: None))
        body = {
            "name": spec.name,
            "version": spec.version,
            "python": env.python_version,
            "requirements": list(env.requirements),
            "image": env.image,
            "description": spec.description,
            "tags": spec.tags,
        }
        return _environment_from_json(self._http.request("POST", "/api/v1/environments", json=body))

    def get(self, name: str, version: str | None = None) -> Environment:
        path = f"/api/v1/environments/{q(name)}"
        if version is not None:
            path += f"/versions/{q(version)}"
        return _environment_from_json(self._http.request("GET", path))

    def list(self, name: str | None = None) -> builtins.list[Environment]:
        path = "/api/v1/environments" if name is None else f"/api/v1/environments/{q(name)}/versions"
        return [_environment_from_json(e) for e in self._http.request("GET", path)["environments"]]


def _compute_from_json(data: dict[str, Any]) -> Compute:
    return Compute(
        name=data["name"],
        kind=data["type"],
        max_concurrent=data["max_concurrent"],
        address=data.get("address"),
        description=data["description"],
        created_at=data["created_at"],
        created_by=data["created_by"],
    )


class ComputeOperations:
    def __init__(self, client: Client) -> None:
        self._http = client.http

    def create(
        self,
        name: str,
        kind: str = "local",
        *,
        max_concurrent: int = 1,
        address: str | None = None,
        description: str | None = None,
    ) -> Compute:
        body = {
            "name": name,
            "type": kind,
            "max_concurrent": max_concurrent,
            "address": address,
            "description": description,
        }
        return _compute_from_json(self._http.request("POST", "/api/v1/computes", json=body))

    def create_from_file(
        self,
        path: str | Path,
        overrides: Mapping[str, object] | None = None,
        *,
        step: SubmitStep | None = None,
    ) -> Compute:
        """Register a compute file: Shipyard's (``local``, ``ray``) or Azure's (``amlcompute``,
        ``computeinstance``: a local target, or Ray when an ``address`` is given). ``overrides``
        are field values that win over the file's; each ignored Azure field is told to ``step``."""
        from shipyard.specs._yaml import load_spec, validate_spec
        from shipyard.specs.compute import ComputeSpec

        source = Path(path)
        spec = load_spec(source, ComputeSpec)
        given = {k: v for k, v in (overrides or {}).items() if v is not None}
        if given:
            merged = {**spec.model_dump(exclude_none=True, exclude={"schema_"}), **given}
            spec = validate_spec(merged, ComputeSpec, str(source))
        target = spec.target()
        say_notes(target.notes, step or (lambda _line: None))
        return self.create(
            target.name,
            target.kind,
            max_concurrent=target.max_concurrent,
            address=target.address,
            description=target.description,
        )

    def get(self, name: str) -> Compute:
        return _compute_from_json(self._http.request("GET", f"/api/v1/computes/{q(name)}"))

    def list(self) -> builtins.list[Compute]:
        return [_compute_from_json(c) for c in self._http.request("GET", "/api/v1/computes")["computes"]]

    def delete(self, name: str) -> None:
        self._http.request("DELETE", f"/api/v1/computes/{q(name)}")
