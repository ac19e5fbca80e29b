"""Request and response DTOs of jobs, environments and compute targets (``/api/v1``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from shipyard.server.schemas import Dto

__all__ = [
    "ComputeIn",
    "ComputeOut",
    "ComputePage",
    "EnvironmentIn",
    "EnvironmentOut",
    "EnvironmentPage",
    "InlineEnvironmentIn",
    "JobCheckOut",
    "JobEventOut",
    "JobFailureOut",
    "JobIn",
    "JobOut",
    "JobPage",
]


class InlineEnvironmentIn(Dto):
    """A job's inline environment with its files already read (the conda file's pip section)."""

    python: str | None = Field(None, description="Python version, e.g. 3.11; default: the server's.")
    requirements: list[str] = Field(default_factory=list, description="pip requirement strings.")
    image: str | None = Field(None, description="Kept for the record: no container engine runs it.")
    notes: list[str] = Field(default_factory=list, description="What was read but not used.")


class JobPartIn(Dto):
    """What the client uploaded or read for one part of a composite job (a pipeline step)."""

    code_snapshot: str | None = None
    input_snapshots: dict[str, str] = Field(default_factory=dict)
    environment: InlineEnvironmentIn | None = None


class JobIn(Dto):
    spec: dict[str, Any] = Field(
        description="The job file's mapping (Azure ML CLI v2 command job), after --set overrides."
    )
    code_snapshot: str | None = Field(
        None, description="Digest of the uploaded code snapshot (POST /api/v1/snapshots)."
    )
    input_snapshots: dict[str, str] = Field(
        default_factory=dict, description="Input name → snapshot digest of its uploaded local path."
    )
    environment: InlineEnvironmentIn | None = Field(
        None, description="The inline environment, read by the client (required when the spec has one)."
    )
    git: dict[str, str] = Field(
        default_factory=dict, description="commit, branch, remote, dirty of the code's repository."
    )
    source: str = Field("job.yml", description="Where the spec came from, for messages.")
    steps: dict[str, JobPartIn] = Field(
        default_factory=dict,
        description="A pipeline's steps' uploads, by step name (code, local inputs, inline environment).",
    )


class JobCheckOut(Dto):
    ok: bool = Field(description="True: everything the job names exists (else the answer is an error).")


class JobEventOut(Dto):
    status: str
    at: int
    message: str


class JobFailureOut(Dto):
    cause: str = Field(description="exit_code, environment_build_failed, input_not_found, timeout, …")
    message: str
    exit_code: int | None = None
    log_tail: str = ""


class JobOut(Dto):
    name: str
    display_name: str
    status: str = Field(description="NotStarted, Queued, Preparing, Running, Finalizing, Completed, …")
    experiment_id: str
    run_id: str
    compute: str
    command: str
    code_digest: str | None
    environment_hash: str | None
    timeout_s: float | None
    created_at: int
    created_by: str
    updated_at: int
    failure: JobFailureOut | None = None
    canceled_by: str | None = None
    events: list[JobEventOut] = Field(default_factory=list)
    spec: dict[str, Any] = Field(default_factory=dict)
    type: str = Field("command", description="command, sweep, pipeline, …")
    parent: str | None = Field(None, description="The composite job this one is a child of.")
    step: str | None = Field(None, description="A child's place in its parent (trial_3, train).")
    report: dict[str, Any] = Field(
        default_factory=dict,
        description="What the job's type says of it: a sweep's trials and best one, why each"
        " pipeline step ran or which earlier step it reused.",
    )


class JobPage(Dto):
    jobs: list[JobOut]
    next_page_token: str | None = None


class EnvironmentIn(Dto):
    name: str
    version: str | None = Field(None, description="Default: one more than the latest integer version.")
    python: str | None = None
    requirements: list[str] = Field(default_factory=list)
    image: str | None = None
    conda_file: dict[str, Any] | None = Field(None, description="Kept for the record.")
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)


class EnvironmentOut(Dto):
    name: str
    version: str
    spec: dict[str, Any]
    spec_hash: str
    description: str
    tags: dict[str, str]
    created_at: int
    created_by: str


class EnvironmentPage(Dto):
    environments: list[EnvironmentOut]


class ComputeIn(Dto):
    name: str
    type: str = Field(description="local or ray")
    max_concurrent: int = Field(1, ge=1, le=1024)
    address: str | None = Field(None, description="The Ray dashboard URL for type ray.")
    description: str | None = None


class ComputeOut(Dto):
    name: str
    type: str
    max_concurrent: int
    address: str | None
    description: str
    created_at: int
    created_by: str


class ComputePage(Dto):
    computes: list[ComputeOut]
