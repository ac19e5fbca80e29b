"""Jobs: a command run on a compute target, tracked as a run, with Azure ML's statuses.

A job has a ``type``: ``command`` jobs are the leaves a compute target runs; other types
(``sweep``, ``pipeline``) are *composite*: their job expands into child jobs (``parent``
names it, ``step`` is the child's place in it: ``trial_3``, ``train``) and is advanced by
its type's plug-in (:mod:`shipyard.services.job_kinds`), never run on a target itself.

A job moves forward only::

    NotStarted → Queued → Preparing → Running → Finalizing → Completed
                   │          │           │          │
                   └──────────┴───────────┴──────────┴──→ Failed | Canceled

``Queued`` waits for a free slot on its compute target, ``Preparing`` materialises the code,
inputs and environment, ``Finalizing`` keeps the logs and outputs with the run. A restart of
the server may send a ``Preparing`` job back to ``Queued`` (nothing of it ran yet), and a job
whose process was lost with its server goes back to ``Queued`` for another attempt when its
file asks for ``retries``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from shipyard.errors import Conflict

__all__ = [
    "ACTIVE",
    "TERMINAL",
    "Compute",
    "Environment",
    "FailureCause",
    "Job",
    "JobEvent",
    "JobFailure",
    "JobStatus",
    "check_transition",
    "new_job_name",
]


class JobStatus(StrEnum):
    NOT_STARTED = "NotStarted"
    QUEUED = "Queued"
    PREPARING = "Preparing"
    RUNNING = "Running"
    FINALIZING = "Finalizing"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELED = "Canceled"


TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED})
ACTIVE = frozenset({JobStatus.PREPARING, JobStatus.RUNNING, JobStatus.FINALIZING})

_ORDER = list(JobStatus)
# Requeued: after a restart during preparation, or for another attempt (``retries``).
_BACK = {(s, JobStatus.QUEUED) for s in (JobStatus.PREPARING, JobStatus.RUNNING, JobStatus.FINALIZING)}


def check_transition(current: JobStatus, new: JobStatus) -> None:
    """Raise Conflict unless ``new`` may follow ``current``."""
    if current in TERMINAL:
        raise Conflict(f"the job is already {current}; it cannot become {new}")
    if new in (JobStatus.FAILED, JobStatus.CANCELED) or (current, new) in _BACK:
        return
    if _ORDER.index(new) <= _ORDER.index(current):
        raise Conflict(f"a {current} job cannot go back to {new}")


class FailureCause(StrEnum):
    """Why a job failed or stopped; stable strings shown by ``job show`` and the API."""

    EXIT_CODE = "exit_code"
    ENVIRONMENT_BUILD = "environment_build_failed"
    INPUT_NOT_FOUND = "input_not_found"
    TIMEOUT = "timeout"
    CANCELED = "canceled"
    LOST = "lost"
    SUBMIT = "submit_failed"
    NO_RESULT = "no_result"
    """A sweep none of whose trials logged its objective metric, or all of whose trials failed."""
    INTERNAL = "internal"


@dataclass(frozen=True, slots=True)
class JobFailure:
    cause: FailureCause
    message: str
    exit_code: int | None = None
    log_tail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "cause": str(self.cause),
            "message": self.message,
            "exit_code": self.exit_code,
            "log_tail": self.log_tail,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobFailure:
        return cls(
            FailureCause(data["cause"]), data["message"], data.get("exit_code"), data.get("log_tail", "")
        )


@dataclass(frozen=True, slots=True)
class JobEvent:
    status: JobStatus
    at: int
    message: str = ""


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    workspace: str
    display_name: str
    experiment_id: str
    run_id: str
    status: JobStatus
    compute: str
    command: str
    spec: dict[str, Any]
    code_digest: str | None
    environment_hash: str | None
    timeout_s: float | None
    created_at: int
    created_by: str
    updated_at: int
    failure: JobFailure | None = None
    canceled_by: str | None = None
    events: list[JobEvent] = field(default_factory=list)
    attempt: int = 1
    """1 for the first run of the command; one more for each retry (``retries`` in the file)."""
    lease_owner: str | None = None
    """The server (its node id) whose job runner holds the job while it is active."""
    placement: dict[str, Any] | None = None
    """Where the current attempt was submitted: ``node``, ``host``, ``folder`` (the job's
    folder), ``state_dir`` (its compute target's), ``target_id`` and ``log_start`` (the
    log's size when the process started) — what another server needs to adopt it."""
    type: str = "command"
    """``command`` (a leaf: run on a compute target), ``sweep``, ``pipeline``, ..."""
    parent: str | None = None
    """The composite job this one is a child of (its name), if any."""
    step: str | None = None
    """A child's place in its parent: the pipeline step's name, ``trial_<n>`` of a sweep."""
    leaf: bool = True
    """Run on a compute target by the job runner (command jobs); else advanced by its type."""
    report: dict[str, Any] = field(default_factory=dict)
    """What the job's type tells about it (JSON): a sweep's trials and best one, why a
    pipeline step ran or which job it reused; shown by ``job show``."""

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    @property
    def retries(self) -> int:
        """How many more attempts the job file allows after the first (``retries: N``)."""
        value = self.spec.get("retries") or 0
        return int(value) if isinstance(value, int) else 0


@dataclass(frozen=True, slots=True)
class Environment:
    """A registered environment version; ``spec`` is what the builder needs (pip, python)."""

    name: str
    version: str
    spec: dict[str, Any]
    spec_hash: str
    description: str
    tags: dict[str, str]
    created_at: int
    created_by: str


@dataclass(frozen=True, slots=True)
class Compute:
    name: str
    kind: str
    max_concurrent: int
    address: str | None
    description: str
    created_at: int
    created_by: str


_ADJECTIVES = (
    "amber", "brave", "calm", "crisp", "eager", "gentle", "happy", "jolly", "keen", "lucid",
    "mellow", "nimble", "polite", "quiet", "rapid", "shiny", "sunny", "tidy", "vivid", "witty",
)  # fmt: skip
_NOUNS = (
    "anchor", "beacon", "cove", "dock", "ferry", "harbor", "hull", "keel", "mast", "oar",
    "pier", "quay", "rudder", "sail", "skiff", "tide", "wharf", "yacht", "buoy", "deck",
)  # fmt: skip


def new_job_name() -> str:
    """A readable, unique-enough name like Azure ML's (``calm_rudder_3kx9q2fw``)."""
    suffix = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(8))
    return f"{secrets.choice(_ADJECTIVES)}_{secrets.choice(_NOUNS)}_{suffix}"
