"""Components: command components registered by name and version, and the record of pipeline
steps that completed — what a later pipeline's step may reuse instead of running again."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Component", "StepResult"]


@dataclass(frozen=True, slots=True)
class Component:
    """An immutable version of a command component (``shipyard component create -f``).

    ``spec`` is the component file's mapping; ``code_digest`` the snapshot of its code folder;
    ``environment`` the inline environment the client read (python, requirements, image), None
    when the component names a registered one (or none)."""

    name: str
    version: str
    workspace: str
    spec: dict[str, Any]
    code_digest: str | None
    environment: dict[str, Any] | None
    description: str
    tags: dict[str, str]
    is_deterministic: bool
    created_at: int
    created_by: str


@dataclass(frozen=True, slots=True)
class StepResult:
    """A pipeline step that completed (or was reused): its reuse ``key`` (the hash of what
    decides its outputs) and ``fingerprint`` (those parts one by one, to say what changed).

    ``pipeline`` is the pipeline's display name (what "the same pipeline" means across runs),
    ``job`` the step's child job, ``source_job`` the job that really ran (itself unless reused),
    ``run_id`` the run holding the outputs."""

    key: str
    pipeline: str
    step: str
    job: str
    source_job: str
    run_id: str
    fingerprint: dict[str, Any] = field(default_factory=dict)
    created_at: int = 0
