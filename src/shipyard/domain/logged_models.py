"""Logged models (MLflow 3): a model with its own id, artifacts and metadata, made by a run or not."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["LoggedModel", "LoggedModelMetric", "LoggedModelStatus"]


class LoggedModelStatus(StrEnum):
    PENDING = "PENDING"
    READY = "READY"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class LoggedModelMetric:
    """A metric point logged by a run against a model (and, optionally, a dataset)."""

    model_id: str
    key: str
    value: float  # NaN and ±inf included, as on a run
    timestamp: int
    step: int
    run_id: str
    dataset_name: str | None = None
    dataset_digest: str | None = None


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
    metrics: list[LoggedModelMetric] = field(default_factory=list)  # every point, in logging order
