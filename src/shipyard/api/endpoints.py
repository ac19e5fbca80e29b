"""Online endpoints and their deployments, as ``/api/v1/online-endpoints`` answers them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from shipyard.api._config import ANSWER_CONFIG

__all__ = ["DeploymentProgress", "DeploymentSystem", "OnlineDeployment", "OnlineEndpoint", "SystemMinute"]

_DONE = frozenset({"Succeeded", "Failed"})


@dataclass(frozen=True, slots=True)
class OnlineEndpoint:
    """An online endpoint: its auth mode, how live traffic is split, and where to score."""

    __pydantic_config__: ClassVar[dict[str, Any]] = ANSWER_CONFIG

    name: str
    auth_mode: str
    """key or none"""
    description: str
    tags: dict[str, str]
    traffic: dict[str, int]
    """Deployment → percent of live traffic."""
    mirror_traffic: dict[str, int]
    """Deployment → percent of live requests copied to it."""
    provisioning_state: str
    """Succeeded once created (deployments have their own)."""
    scoring_uri: str
    created_at: int
    created_by: str
    updated_at: int


@dataclass(frozen=True, slots=True)
class OnlineDeployment:
    """A deployment of an online endpoint: a model served by its workers."""

    __pydantic_config__: ClassVar[dict[str, Any]] = ANSWER_CONFIG

    name: str
    endpoint_name: str
    provisioning_state: str
    """Creating, Updating, Succeeded or Failed"""
    reason: str
    """Why it Failed, in words (empty otherwise)."""
    revision: str
    """Hash of what the workers run; changes with every real update."""
    model: dict[str, Any]
    """kind (mlflow|custom), name, version, source of the model."""
    instance_count: int
    description: str
    tags: dict[str, str]
    created_at: int
    created_by: str
    updated_at: int
    notes: list[str] = field(default_factory=list)
    """Fields read but not acted on."""
    spec: dict[str, Any] = field(default_factory=dict)
    """The resolved deployment."""

    @property
    def done(self) -> bool:
        return self.provisioning_state in _DONE


@dataclass(frozen=True, slots=True)
class DeploymentProgress:
    """A deployment's state and the lines its preparation log gained since an offset."""

    __pydantic_config__: ClassVar[dict[str, Any]] = ANSWER_CONFIG

    provisioning_state: str
    """Creating, Updating, Succeeded or Failed"""
    reason: str
    """Why it Failed, in words (empty otherwise)."""
    revision: str
    text: str
    """Whole lines the preparation log gained since `offset`: model download, environment build
    (uv's output), workers starting and their probes. Once the state is Succeeded or Failed,
    every line written before it is here."""
    offset: int
    """Ask from here next."""

    @property
    def done(self) -> bool:
        return self.provisioning_state in _DONE


@dataclass(frozen=True, slots=True)
class SystemMinute:
    """One minute of a deployment's scoring, added up over every server that served it."""

    __pydantic_config__: ClassVar[dict[str, Any]] = ANSWER_CONFIG

    at: int
    """The minute's start, ms since the epoch."""
    requests: int
    """Live requests it answered (any status); mirrored copies are not counted."""
    errors: int
    """Of which answered 4xx or 5xx."""
    latency_p50_ms: float | None
    """Median latency, interpolated in the fixed latency buckets; None without requests."""
    latency_p99_ms: float | None
    cpu_percent: float | None
    """CPU of the deployment's workers over the minute (100 = one core); None if not sampled."""
    memory_mb: float | None
    """Resident memory of the deployment's workers at the minute's end."""


@dataclass(frozen=True, slots=True)
class DeploymentSystem:
    """A deployment's per-minute figures (the monitor's ``system`` collection), oldest first.

    A minute no server wrote (no worker, no server running) is absent, not zero: a gap."""

    __pydantic_config__: ClassVar[dict[str, Any]] = ANSWER_CONFIG

    minutes: list[SystemMinute]
    minute_ms: int = 60_000
    """The length of a minute's bucket, ms."""
