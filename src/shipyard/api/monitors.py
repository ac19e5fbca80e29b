"""Monitors and their runs, as ``/api/v1/monitors`` answers them (docs/monitoring.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from shipyard.api._config import ANSWER_CONFIG

__all__ = [
    "Monitor",
    "MonitorDetails",
    "MonitorPage",
    "MonitorRow",
    "MonitorRun",
    "MonitorSignal",
    "MonitorStarted",
]


@dataclass(frozen=True, slots=True)
class Monitor:
    """A schedule of monitor jobs (``schedule create -f monitor.yml``)."""

    __pydantic_config__: ClassVar[dict[str, Any]] = ANSWER_CONFIG

    name: str
    enabled: bool
    trigger: dict[str, Any]
    target: str | None
    """``azureml:<endpoint>:<deployment>`` watched, if any."""
    signals: list[str]
    """The signals the file names (none: Azure's out-of-box drift and quality signals)."""
    created_by: str
    """Whom its runs run as."""
    created_at: int


@dataclass(frozen=True, slots=True)
class MonitorRow:
    """One value of a signal held to its threshold."""

    __pydantic_config__: ClassVar[dict[str, Any]] = ANSWER_CONFIG

    column: str | None
    """None for model performance and system metrics."""
    type: str
    """numerical, categorical, classification, regression or system."""
    metric: str
    value: float | None
    threshold: float
    breach_when: str
    """above or below."""
    breached: bool


@dataclass(frozen=True, slots=True)
class MonitorSignal:
    __pydantic_config__: ClassVar[dict[str, Any]] = ANSWER_CONFIG

    name: str
    type: str
    breached: bool
    rows: list[MonitorRow]
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    """Why the signal could not be computed (no data in its window…); the others still were."""
    drifted_share: float | None = None
    histograms: dict[str, Any] | None = None
    """Per column: the reference's and production's counts (only with ``histograms=true``)."""


@dataclass(frozen=True, slots=True)
class MonitorRun:
    """One monitor job: its window, each signal, what its breaches triggered."""

    __pydantic_config__: ClassVar[dict[str, Any]] = ANSWER_CONFIG

    job: str
    run_id: str
    status: str
    created_at: int
    generated_at: int | None
    window: dict[str, int] | None
    """start, end (UTC ms)."""
    reference: str | None
    breached: list[str]
    signals: list[MonitorSignal]
    actions: list[dict[str, Any]]
    """Per breached signal: the webhook's answer, the retraining job, the e-mail."""
    message: str | None = None


@dataclass(frozen=True, slots=True)
class MonitorDetails:
    __pydantic_config__: ClassVar[dict[str, Any]] = ANSWER_CONFIG

    monitor: Monitor
    runs: list[MonitorRun]
    """Newest first."""


@dataclass(frozen=True, slots=True)
class MonitorPage:
    __pydantic_config__: ClassVar[dict[str, Any]] = ANSWER_CONFIG

    monitors: list[Monitor]


@dataclass(frozen=True, slots=True)
class MonitorStarted:
    __pydantic_config__: ClassVar[dict[str, Any]] = ANSWER_CONFIG

    job: str
    run_id: str
    status: str
