"""Experiments, runs and what is logged to them."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = [
    "TERMINAL_STATUSES",
    "Experiment",
    "MetricHistory",
    "MetricSummary",
    "Run",
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
