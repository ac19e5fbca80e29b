"""Batch endpoints and their deployments, as ``/api/v1/batch-endpoints`` answers them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from shipyard.api._config import ANSWER_CONFIG

__all__ = ["BatchDeployment", "BatchEndpoint"]


@dataclass(frozen=True, slots=True)
class BatchEndpoint:
    """A batch endpoint: a name that scores data assets with its default deployment."""

    __pydantic_config__: ClassVar[dict[str, Any]] = ANSWER_CONFIG

    name: str
    description: str
    tags: dict[str, str]
    default_deployment: str | None
    """What invoke uses unless told otherwise."""
    created_at: int
    created_by: str
    updated_at: int
    notes: list[str] = field(default_factory=list)
    """Fields read but not acted on."""


@dataclass(frozen=True, slots=True)
class BatchDeployment:
    """A model that scores a batch endpoint's inputs in mini-batches."""

    __pydantic_config__: ClassVar[dict[str, Any]] = ANSWER_CONFIG

    name: str
    endpoint_name: str
    model: dict[str, Any]
    """kind (mlflow|custom), name, version, source, snapshot."""
    compute: str
    settings: dict[str, Any]
    """mini_batch_size, retry_settings, error_threshold…"""
    output: dict[str, Any] | None
    """The SQL target {sql_url, table}, if any."""
    description: str
    tags: dict[str, str]
    created_at: int
    created_by: str
    updated_at: int
    notes: list[str] = field(default_factory=list)
    """Fields read but not acted on."""
