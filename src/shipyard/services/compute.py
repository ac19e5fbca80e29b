"""The compute port: where a job's process runs, behind one narrow, idempotent interface.

The job service keeps the queue of jobs, their runs and their statuses in the database; a
:class:`ComputeTarget` only runs a shell command and reports on it::

    target.submit(Submission(job_id="j1", command="python train.py", working_dir=snapshot))
    target.status("j1")                 # TargetStatus(state=RUNNING, ...)
    target.logs("j1", offset=0)         # LogChunk(data=b"...", next_offset=123, complete=False)
    target.cancel("j1", reason="by alice")
    target.close()

Every method is keyed by ``job_id`` and safe to repeat: a second ``submit`` or ``cancel`` of
the same id does nothing, so a job service that crashed between "submitted" and "recorded"
just submits again. Backends live in :mod:`shipyard.compute` and are opened by kind through
``shipyard.compute.registry.open_target``; the services never import them.
"""

from __future__ import annotations

import enum
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

from shipyard.errors import InvalidArgument

#: What a target may declare in ``capabilities`` (see :class:`ComputeTarget`).
REATTACH = "reattach"
REMOTE = "remote"
PIP = "pip"
PYTHON_BIN_DIR = "python_bin_dir"

__all__ = [
    "ENV_PASSTHROUGH",
    "PIP",
    "PYTHON_BIN_DIR",
    "REATTACH",
    "REMOTE",
    "ComputeConfig",
    "ComputeTarget",
    "LogChunk",
    "Submission",
    "TargetState",
    "TargetStatus",
    "check_job_id",
    "process_environment",
]

_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")

ENV_PASSTHROUGH: frozenset[str] = frozenset(
    {
        "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TERM",
        "TMPDIR", "TEMP", "TMP", "SYSTEMROOT",
        "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
        "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
    }
)  # fmt: skip
"""The server's variables a job inherits (plus ``PATH`` and every ``LC_*``); nothing else —
in particular never the server's ``SHIPYARD_*`` settings, which may hold secrets."""


def check_job_id(job_id: str) -> str:
    """A job id names a folder and a Ray submission: letters, digits, ``.``, ``_``, ``-``."""
    if not isinstance(job_id, str) or not _JOB_ID.fullmatch(job_id) or job_id in (".", ".."):
        raise InvalidArgument(
            f"job id {job_id!r} must be 1-128 letters, digits, '.', '_' or '-',"
            " starting with a letter or digit"
        )
    return job_id


@dataclass(frozen=True, slots=True)
class Submission:
    """One job for a target to run.

    ``command`` is a shell string, as in Azure ML job files (``python train.py --C 0.5``),
    with the ``${{...}}`` bindings already resolved by the job service; targets run it with
    ``bash -c`` (``sh -c`` where bash is missing). ``env`` is added to a clean base
    environment (see :func:`process_environment`). ``python_bin_dir`` is a built venv's
    ``bin`` folder put first on ``PATH`` (``None``: the server's interpreter's); targets that
    build their own environment (Ray's ``runtime_env``) install ``pip`` instead.

    ``secret_env`` (the job's token, revealed ``${{secrets.…}}``) joins ``env`` in the
    process only: targets never write it to disk, so a job a restart finds still waiting for
    its start cannot get it back and ends as lost.
    """

    job_id: str
    command: str
    working_dir: Path
    env: Mapping[str, str] = field(default_factory=dict, hash=False)
    python_bin_dir: Path | None = None
    pip: tuple[str, ...] = ()
    timeout_s: float | None = None
    secret_env: Mapping[str, str] = field(default_factory=dict, hash=False, repr=False)

    def __post_init__(self) -> None:
        check_job_id(self.job_id)
        if not isinstance(self.command, str) or not self.command.strip():
            raise InvalidArgument("a job's command must be a non-empty shell string")
        if self.timeout_s is not None and self.timeout_s <= 0:
            raise InvalidArgument(f"timeout must be positive, got {self.timeout_s}")
        bad = [k for k in self.env if not k or "=" in k or "\0" in k or "\0" in self.env[k]]
        bad += [k for k in self.secret_env if not k or "=" in k or "\0" in k or "\0" in self.secret_env[k]]
        if bad:
            raise InvalidArgument(f"invalid environment variable names or values: {bad}")
        object.__setattr__(self, "env", MappingProxyType(dict(self.env)))
        object.__setattr__(self, "secret_env", MappingProxyType(dict(self.secret_env)))


class TargetState(enum.Enum):
    """Where a job is on its target. The job service maps these onto Azure ML's statuses."""

    QUEUED = "QUEUED"  # accepted, waiting for a free slot
    STARTING = "STARTING"  # being launched (Ray: building its runtime environment)
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    LOST = "LOST"  # the target no longer knows what became of the process

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({TargetState.SUCCEEDED, TargetState.FAILED, TargetState.CANCELED, TargetState.LOST})


@dataclass(frozen=True, slots=True)
class TargetStatus:
    """A job's state with its cause: ``message`` is for people ("exit code 3",
    "timed out after 60 s", "canceled: by alice", "process lost: ..."); times are epoch ms."""

    state: TargetState
    exit_code: int | None = None
    message: str = ""
    started_at: int | None = None
    ended_at: int | None = None


@dataclass(frozen=True, slots=True)
class LogChunk:
    """Bytes ``[offset, next_offset)`` of a job's combined stdout+stderr. ``complete`` is
    true once the job has ended and this chunk reaches the end of its log."""

    data: bytes
    next_offset: int
    complete: bool


@dataclass(frozen=True, slots=True)
class ComputeConfig:
    """A registered compute target, as the job service stores it (``shipyard compute create``).

    ``kind`` picks the backend (``local``, ``ray``, or a plugin's); ``address`` is where it
    listens (Ray's dashboard URL); ``options`` are backend-specific extras."""

    kind: str
    name: str
    max_concurrent: int = 1
    address: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.max_concurrent < 1:
            raise InvalidArgument(f"max_concurrent must be at least 1, got {self.max_concurrent}")


class ComputeTarget(ABC):
    """Runs submissions. Implementations are thread-safe; all methods are idempotent.

    ``capabilities`` names optional abilities instead of stub methods:
    ``"reattach"`` — a new instance on the same state (after a server restart) still reports
    on and controls jobs the previous one started; ``"remote"`` — its jobs run on a cluster
    every server reaches, so an instance on any server's state reports on them (without it, a
    job is reachable only from the machine that submitted it, through the state folder it
    was submitted with); ``"pip"`` — honours ``Submission.pip``; ``"python_bin_dir"`` —
    honours ``Submission.python_bin_dir``.
    """

    kind: ClassVar[str]
    capabilities: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    @abstractmethod
    def from_config(cls, config: ComputeConfig, state_dir: Path) -> ComputeTarget:
        """The target ``config`` describes, keeping its per-job files in ``state_dir``."""

    @abstractmethod
    def submit(self, sub: Submission) -> None:
        """Queue ``sub`` and return at once. A job id already known is a no-op."""

    @abstractmethod
    def status(self, job_id: str) -> TargetStatus:
        """The job's current state; :class:`~shipyard.errors.NotFound` for an unknown id."""

    @abstractmethod
    def logs(self, job_id: str, offset: int = 0, limit: int = 1 << 20) -> LogChunk:
        """Up to ``limit`` bytes of output from ``offset``; readable while running and after."""

    @abstractmethod
    def cancel(self, job_id: str, reason: str) -> None:
        """Stop a queued or running job (its whole process tree); a no-op once it ended."""

    @abstractmethod
    def close(self) -> None:
        """Release the target's resources. Running jobs keep running when the target can
        re-attach to them later; nothing is canceled."""

    def listen(self, changed: Callable[[], None]) -> None:
        """Be told when one of this target's jobs starts or ends, so a watcher looks at once
        instead of at its next poll. Optional: a target that cannot tell is polled."""
        del changed


def process_environment(
    extra: Mapping[str, str], server_env: Mapping[str, str], bin_dir: Path
) -> dict[str, str]:
    """The environment a job's process starts with.

    The server's :data:`ENV_PASSTHROUGH` variables and ``LC_*``, ``PATH`` with ``bin_dir``
    first (and ``VIRTUAL_ENV`` pointing at its venv when it is one), ``PYTHONUNBUFFERED=1`` so output reaches
    the log as it is printed — then ``extra`` (the job's own variables) on top.
    """
    env = {k: v for k, v in server_env.items() if k in ENV_PASSTHROUGH or k.startswith("LC_")}
    path = server_env.get("PATH", "/usr/local/bin:/usr/bin:/bin")
    env["PATH"] = f"{bin_dir}{os.pathsep}{path}" if path else str(bin_dir)
    if (bin_dir.parent / "pyvenv.cfg").is_file():
        env["VIRTUAL_ENV"] = str(bin_dir.parent)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env
