"""The repositories of MLflow 3's GenAI entities (``stores/sql/eval_datasets.py``,
``scorers.py``, ``gateway.py``), reached as ``uow[EVAL_DATASETS]`` and so on.

Experiments are passed by their integer key (``Experiment.id`` as the store holds it): the
services resolve and authorise the experiment first, in the same transaction.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence

from shipyard.domain.eval_datasets import DatasetRecord, EvalDataset
from shipyard.domain.gateway import EndpointModel, GatewayEndpoint, GatewaySecret, ModelDefinition
from shipyard.domain.issues import Issue
from shipyard.domain.scorers import ScorerVersion
from shipyard.services.ports import RepositoryKey

__all__ = [
    "EVAL_DATASETS",
    "GATEWAY",
    "ISSUES",
    "SCORERS",
    "EvalDatasetRepository",
    "GatewayRepository",
    "IssueRepository",
    "ScorerRepository",
]


class EvalDatasetRepository(ABC):
    @abstractmethod
    def create(self, workspace_id: int, dataset: EvalDataset) -> None:
        """Insert the dataset, its tags and its links to ``dataset.experiment_ids``."""

    @abstractmethod
    def get(self, workspace: str, dataset_id: str) -> EvalDataset | None: ...

    @abstractmethod
    def list(self, workspace: str, experiment_ids: Sequence[str] | None) -> builtins.list[EvalDataset]:
        """The workspace's datasets (linked to one of ``experiment_ids`` when given)."""

    @abstractmethod
    def delete(self, dataset_id: str) -> None:
        """The dataset with its records, tags and experiment links."""

    @abstractmethod
    def touch(
        self,
        dataset_id: str,
        *,
        digest: str,
        last_update_time: int,
        last_updated_by: str | None,
        schema: str | None = None,
        profile: str | None = None,
    ) -> None:
        """Record a change; ``schema``/``profile`` are written when given."""

    @abstractmethod
    def set_tags(self, dataset_id: str, tags: Mapping[str, str]) -> None: ...

    @abstractmethod
    def delete_tag(self, dataset_id: str, key: str) -> None: ...

    @abstractmethod
    def link(self, dataset_id: str, experiment_ids: Sequence[str]) -> None:
        """Link to these experiments (ones already linked are kept once)."""

    @abstractmethod
    def unlink(self, dataset_id: str, experiment_ids: Sequence[str]) -> None: ...

    @abstractmethod
    def records_by_hash(self, dataset_id: str, hashes: Sequence[str]) -> dict[str, DatasetRecord]: ...

    @abstractmethod
    def insert_records(self, records: Sequence[DatasetRecord]) -> None: ...

    @abstractmethod
    def update_records(self, records: Sequence[DatasetRecord]) -> None:
        """Write the mutable fields (outputs, expectations, tags, update time and user)."""

    @abstractmethod
    def count_records(self, dataset_id: str) -> int: ...

    @abstractmethod
    def page_records(
        self, dataset_id: str, after: tuple[int, str] | None, limit: int
    ) -> builtins.list[DatasetRecord]:
        """By (created_time, id), after the position ``after``."""

    @abstractmethod
    def delete_records(self, dataset_id: str, record_ids: Sequence[str]) -> int: ...


class ScorerRepository(ABC):
    @abstractmethod
    def scorer_id(self, experiment_id: str, name: str) -> str | None: ...

    @abstractmethod
    def create(self, scorer_id: str, experiment_id: str, name: str) -> None: ...

    @abstractmethod
    def add_version(self, version: ScorerVersion) -> None: ...

    @abstractmethod
    def versions(self, experiment_id: str, name: str | None = None) -> builtins.list[ScorerVersion]:
        """By name, then version (every name's when ``name`` is None)."""

    @abstractmethod
    def delete(self, scorer_id: str, version: int | None) -> int:
        """Versions deleted; with ``version`` None, the scorer with all its versions."""


class IssueRepository(ABC):
    @abstractmethod
    def create(self, issue: Issue) -> None: ...

    @abstractmethod
    def get(self, workspace: str, issue_id: str) -> Issue | None: ...

    @abstractmethod
    def update(self, issue: Issue) -> None: ...

    @abstractmethod
    def search(
        self, workspace: str, experiment_id: str | None, offset: int, limit: int
    ) -> builtins.list[Issue]:
        """Newest first."""


class GatewayRepository(ABC):
    # -- secrets -----------------------------------------------------------------------
    @abstractmethod
    def add_secret(self, workspace_id: int, secret: GatewaySecret) -> None: ...

    @abstractmethod
    def update_secret(self, secret: GatewaySecret) -> None: ...

    @abstractmethod
    def secret(
        self, workspace: str, *, secret_id: str | None = None, name: str | None = None
    ) -> GatewaySecret | None: ...

    @abstractmethod
    def secrets(self, workspace: str, provider: str | None) -> builtins.list[GatewaySecret]: ...

    @abstractmethod
    def delete_secret(self, secret_id: str) -> None:
        """Model definitions that used it keep no secret."""

    # -- model definitions -------------------------------------------------------------
    @abstractmethod
    def add_model(self, workspace_id: int, model: ModelDefinition) -> None: ...

    @abstractmethod
    def update_model(self, model: ModelDefinition) -> None: ...

    @abstractmethod
    def model(self, workspace: str, model_id: str) -> ModelDefinition | None: ...

    @abstractmethod
    def models(
        self, workspace: str, provider: str | None, secret_id: str | None
    ) -> builtins.list[ModelDefinition]: ...

    @abstractmethod
    def endpoints_using(self, model_id: str) -> builtins.list[str]:
        """Names of the endpoints a model definition is attached to."""

    @abstractmethod
    def delete_model(self, model_id: str) -> None: ...

    # -- endpoints ---------------------------------------------------------------------
    @abstractmethod
    def add_endpoint(self, workspace_id: int, endpoint: GatewayEndpoint) -> None:
        """The endpoint and its models."""

    @abstractmethod
    def update_endpoint(self, endpoint: GatewayEndpoint) -> None:
        """Its settings and tags; its models are replaced by ``endpoint.models``."""

    @abstractmethod
    def endpoint(
        self, workspace: str, *, endpoint_id: str | None = None, name: str | None = None
    ) -> GatewayEndpoint | None: ...

    @abstractmethod
    def endpoints(self, workspace: str) -> builtins.list[GatewayEndpoint]: ...

    @abstractmethod
    def delete_endpoint(self, endpoint_id: str) -> None: ...

    @abstractmethod
    def attach(self, endpoint_id: str, model: EndpointModel) -> None: ...

    @abstractmethod
    def detach(self, endpoint_id: str, model_id: str) -> int: ...


EVAL_DATASETS: RepositoryKey[EvalDatasetRepository] = RepositoryKey("eval_datasets")
SCORERS: RepositoryKey[ScorerRepository] = RepositoryKey("scorers")
ISSUES: RepositoryKey[IssueRepository] = RepositoryKey("genai_issues")
GATEWAY: RepositoryKey[GatewayRepository] = RepositoryKey("gateway")
