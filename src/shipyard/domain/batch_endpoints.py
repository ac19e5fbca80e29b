"""Batch endpoints and their deployments.

A batch endpoint is a stable name that scores data in bulk; each invocation is a job. Its
deployments pin a model (its files are kept as a snapshot when the deployment is created, so
a later change to the registry does not change what an existing deployment scores), a
scoring script, an environment, a compute target and the mini-batch settings. One deployment
is the endpoint's default: ``invoke`` uses it unless told otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["BatchDeployment", "BatchEndpoint", "BatchInvocation"]


@dataclass(frozen=True, slots=True)
class BatchEndpoint:
    name: str
    workspace: str
    description: str
    tags: dict[str, str]
    default_deployment: str | None
    created_at: int
    created_by: str
    updated_at: int
    spec: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BatchDeployment:
    """``spec`` is the resolved deployment (model snapshot, code, environment, compute,
    settings, SQL output) a job is built from; ``model`` says which version it scores with."""

    endpoint: str
    name: str
    workspace: str
    spec: dict[str, Any]
    model: dict[str, Any]
    created_at: int
    created_by: str
    updated_at: int


@dataclass(frozen=True, slots=True)
class BatchInvocation:
    """One ``invoke``: the job it started and the deployment that scored."""

    endpoint: str
    deployment: str
    job_name: str
    created_at: int
