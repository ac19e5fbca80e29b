"""The repositories of components and of completed pipeline steps (``stores/sql/components.py``),
reached as ``uow[COMPONENTS]`` and ``uow[STEP_RESULTS]``."""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod

from shipyard.domain.components import Component, StepResult
from shipyard.services.ports import RepositoryKey

__all__ = ["COMPONENTS", "STEP_RESULTS", "ComponentRepository", "StepResultRepository"]


class ComponentRepository(ABC):
    @abstractmethod
    def create(self, workspace_id: int, component: Component) -> None:
        """Raise AlreadyExists when the name and version are taken."""

    @abstractmethod
    def get(self, workspace: str, name: str, version: str) -> Component | None: ...

    @abstractmethod
    def latest(self, workspace: str, name: str) -> Component | None:
        """The version created last."""

    @abstractmethod
    def versions(self, workspace: str, name: str) -> builtins.list[Component]:
        """Newest first."""

    @abstractmethod
    def list_latest(self, workspace: str) -> builtins.list[Component]:
        """The newest version of each name, by name."""

    @abstractmethod
    def next_version(self, workspace: str, name: str) -> str:
        """One more than the highest integer version ("1" for a new name)."""


class StepResultRepository(ABC):
    @abstractmethod
    def add(self, workspace_id: int, result: StepResult) -> None:
        """Record a completed step once (a second add of the same job is a no-op)."""

    @abstractmethod
    def by_key(self, workspace: str, key: str) -> StepResult | None:
        """The newest result with this reuse key (an index lookup)."""

    @abstractmethod
    def last_of(self, workspace: str, pipeline: str, step: str, before: int) -> StepResult | None:
        """The newest result of this step of a pipeline of this name, recorded before ``before``."""


COMPONENTS: RepositoryKey[ComponentRepository] = RepositoryKey("components")
STEP_RESULTS: RepositoryKey[StepResultRepository] = RepositoryKey("step_results")
