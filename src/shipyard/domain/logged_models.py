"""Logged models (MLflow 3): a model with its own id, artifacts and metadata, made by a run or not."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["LoggedModel", "LoggedModelStatus"]


class LoggedModelStatus(StrEnum):
    PENDING = "PENDING"
    READY = "READY"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class LoggedModel:
    model_id: str
    experiment_id: str
    name: str
    artifact_location: str  # the key prefix of its files in the artifact store
    status: str
    status_message: str | None
    model_type: str | None
    source_run_id: str | None
    lifecycle_stage: str
    created_at: int
    created_by: str
    updated_at: int
    updated_by: str
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
