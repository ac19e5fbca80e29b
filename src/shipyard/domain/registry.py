"""The model registry: registered models, their versions, aliases and change history."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["STAGES", "ModelEvent", "ModelVersion", "RegisteredModel"]

STAGES = ("None", "Staging", "Production", "Archived")


@dataclass(frozen=True, slots=True)
class ModelVersion:
    name: str
    version: int
    source: str
    run_id: str | None
    experiment_id: str | None
    artifact_path: str | None
    code_version: str | None
    description: str
    status: str
    tags: dict[str, str]
    aliases: list[str]
    created_at: int
    created_by: str
    updated_at: int
    updated_by: str
    stage: str = "None"  # MLflow's legacy stages: None, Staging, Production, Archived
    logged_model_id: str | None = None  # the MLflow 3 logged model it was registered from


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    name: str
    workspace: str
    description: str
    tags: dict[str, str]
    aliases: dict[str, int]
    latest_version: int | None
    created_at: int
    created_by: str
    updated_at: int
    updated_by: str


@dataclass(frozen=True, slots=True)
class ModelEvent:
    """One change to a registered model: who did what, and when. Append-only."""

    id: int
    name: str
    version: int | None
    action: str
    detail: dict[str, Any] = field(default_factory=dict)
    actor: str = ""
    at: int = 0
