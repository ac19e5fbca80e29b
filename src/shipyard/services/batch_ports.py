"""Repositories of batch endpoints, their deployments and their invocations (jobs).

Implemented by ``stores/sql/batch_endpoints.py``; reached through a unit of work
(``uow.batch_endpoints``, ``uow.batch_deployments``) so that a deployment and the endpoint's
default change in one transaction.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod

from shipyard.domain.batch_endpoints import BatchDeployment, BatchEndpoint, BatchInvocation

__all__ = ["BatchDeploymentRepository", "BatchEndpointRepository"]


class BatchEndpointRepository(ABC):
    @abstractmethod
    def create(self, workspace_id: int, endpoint: BatchEndpoint) -> None:
        """Raise AlreadyExists when the name is taken in the workspace."""

    @abstractmethod
    def get(self, workspace: str, name: str) -> BatchEndpoint | None: ...

    @abstractmethod
    def list(self, workspace: str) -> builtins.list[BatchEndpoint]:
        """By name."""

    @abstractmethod
    def set_default(self, workspace: str, name: str, deployment: str | None, now: int) -> None: ...

    @abstractmethod
    def delete(self, workspace: str, name: str) -> bool:
        """Remove the endpoint with its deployments and invocation records (the jobs stay)."""

    @abstractmethod
    def add_invocation(self, workspace: str, invocation: BatchInvocation) -> None: ...

    @abstractmethod
    def invocations(self, workspace: str, name: str, limit: int) -> builtins.list[BatchInvocation]:
        """Newest first."""


class BatchDeploymentRepository(ABC):
    @abstractmethod
    def create(self, workspace: str, deployment: BatchDeployment) -> None:
        """Raise AlreadyExists when the endpoint has a deployment of that name."""

    @abstractmethod
    def get(self, workspace: str, endpoint: str, name: str) -> BatchDeployment | None: ...

    @abstractmethod
    def list(self, workspace: str, endpoint: str) -> builtins.list[BatchDeployment]:
        """By name."""

    @abstractmethod
    def of_workspace(self, workspace: str) -> builtins.list[BatchDeployment]:
        """Every deployment of every batch endpoint of the workspace, in one query (lineage)."""

    @abstractmethod
    def update(self, workspace: str, deployment: BatchDeployment) -> bool:
        """Replace its spec, model and updated_at; False when there is no such deployment."""

    @abstractmethod
    def delete(self, workspace: str, endpoint: str, name: str) -> bool: ...
