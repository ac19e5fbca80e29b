"""Experiments, runs and what is logged to them."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = [
    "TERMINAL_STATUSES",
    "Dataset",
    "DatasetInput",
    "Experiment",
    "MetricHistory",
    "MetricSummary",
    "ModelOutput",
    "Run",
    "RunIO",
    "RunStatus",
]


class RunStatus(enum.StrEnum):
    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"


TERMINAL_STATUSES = frozenset({RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED})


@dataclass(frozen=True, slots=True)
class Experiment:
    id: str
    workspace: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    tags: dict[str, str]
    created_at: int
    created_by: str
    updated_at: int
    updated_by: str


@dataclass(frozen=True, slots=True)
class MetricSummary:
    """The latest point of one metric key (latest = highest step, then newest timestamp)."""

    key: str
    value: float
    step: int
    timestamp: int
    count: int
    min: float
    max: float


@dataclass(frozen=True, slots=True)
class Run:
    id: str
    experiment_id: str
    name: str
    status: RunStatus
    start_time: int
    end_time: int | None
    parent_run_id: str | None
    lifecycle_stage: str
    artifact_uri: str
    created_by: str
    updated_at: int
    updated_by: str
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, MetricSummary] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MetricHistory:
    """Columnar points of one metric key, in step order."""

    key: str
    steps: list[int]
    values: list[float]
    timestamps: list[int]
    next_page_token: str | None = None
    downsampled: bool = False
    total: int = 0


@dataclass(frozen=True, slots=True)
class Dataset:
    """A dataset as MLflow describes it; one row per (experiment, name, digest)."""

    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None


@dataclass(frozen=True, slots=True)
class DatasetInput:
    """A dataset used by a run, with the input's own tags (e.g. ``mlflow.data.context``)."""

    dataset: Dataset
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ModelOutput:
    """A logged model a run produced, at a step."""

    model_id: str
    step: int


@dataclass(frozen=True, slots=True)
class RunIO:
    """What a run read (datasets, logged models by id) and wrote (logged models)."""

    inputs: list[DatasetInput] = field(default_factory=list)
    outputs: list[ModelOutput] = field(default_factory=list)
    model_inputs: list[str] = field(default_factory=list)
