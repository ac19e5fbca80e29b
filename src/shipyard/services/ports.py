"""The interfaces services need from the outside world. Stores implement them.

Each repository serves one aggregate. A :class:`UnitOfWork` hands out repositories bound to
one transaction; :class:`Database` opens units of work for reading or writing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Generic, TypeVar, cast

from shipyard.domain.filters import Clause, OrderBy
from shipyard.domain.logged_models import LoggedModel, LoggedModelMetric
from shipyard.domain.model_search import ModelClause, ModelOrder
from shipyard.domain.registry import ModelEvent, ModelVersion, RegisteredModel
from shipyard.domain.tracking import DatasetInput, Experiment, ModelOutput, Run, RunIO
from shipyard.services.access.ports import (
    AuditRepository,
    RoleRepository,
    SecretRepository,
    TokenRepository,
    UserRepository,
)
from shipyard.services.batch_ports import BatchDeploymentRepository, BatchEndpointRepository
from shipyard.services.data_ports import DataAssetRepository
from shipyard.services.endpoint_ports import DeploymentRepository, EndpointRepository
from shipyard.services.job_ports import (
    ComputeRepository,
    EnvironmentRepository,
    JobRepository,
    LogChunkRepository,
)

__all__ = [
    "ArtifactIndex",
    "ArtifactRecord",
    "ArtifactStore",
    "Database",
    "ExperimentRepository",
    "LoggedModelRepository",
    "MetricBatch",
    "MetricRepository",
    "MetricSeries",
    "ModelRepository",
    "ObjectInfo",
    "RepositoryKey",
    "RunIORepository",
    "RunRef",
    "RunRepository",
    "UnitOfWork",
    "WorkspaceRepository",
]

_R = TypeVar("_R")


class RepositoryKey(Generic[_R]):
    """The typed name of a resource's repository, declared beside its port:
    ``SCHEDULES: RepositoryKey[ScheduleRepository] = RepositoryKey("schedules")``."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


@dataclass(frozen=True, slots=True)
class RunRef:
    """What services need to authorise and route a write to a run."""

    pk: int
    run_id: str
    experiment_id: str
    workspace: str
    lifecycle_stage: str
    artifact_uri: str


@dataclass(frozen=True, slots=True)
class MetricSeries:
    """Points of one key, columnar; the four lists have the same length."""

    key: str
    steps: list[int]
    values: list[float]
    timestamps: list[int]


@dataclass(frozen=True, slots=True)
class MetricBatch:
    """Metric points grouped by key (each key at most once), as they travel on the wire.

    Columnar per key lets the store compute aggregates and build rows with C-level builtins
    instead of a Python loop per point — the difference between 80k and 200k points/s.
    """

    series: list[MetricSeries]

    def __len__(self) -> int:
        return sum(len(s.values) for s in self.series)

    @classmethod
    def from_points(
        cls, keys: list[str], steps: list[int], values: list[float], timestamps: list[int]
    ) -> MetricBatch:
        """Group flat (key, step, value, timestamp) columns by key."""
        grouped: dict[str, MetricSeries] = {}
        for key, step, value, ts in zip(keys, steps, values, timestamps, strict=True):
            series = grouped.get(key)
            if series is None:
                series = grouped[key] = MetricSeries(key, [], [], [])
            series.steps.append(step)
            series.values.append(value)
            series.timestamps.append(ts)
        return cls(list(grouped.values()))


@dataclass(frozen=True, slots=True)
class ArtifactRecord:
    path: str
    size: int
    sha256: str
    created_at: int


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    modified: float | None = None
    """When it was written, in seconds since the epoch; None where the store cannot tell."""


class WorkspaceRepository(ABC):
    @abstractmethod
    def ensure(self, name: str, actor: str, now: int) -> int:
        """Return the id of workspace ``name``, creating it if needed."""

    @abstractmethod
    def id_of(self, name: str) -> int | None: ...

    @abstractmethod
    def names(self) -> list[str]:
        """Every workspace, by name."""


class ExperimentRepository(ABC):
    @abstractmethod
    def create(
        self, workspace_id: int, name: str, artifact_root: str, tags: dict[str, str], actor: str, now: int
    ) -> Experiment:
        """Create and return the experiment; raise AlreadyExists on a duplicate name."""

    @abstractmethod
    def get(self, workspace: str, experiment_id: str) -> Experiment | None: ...

    @abstractmethod
    def get_by_name(self, workspace: str, name: str) -> Experiment | None: ...

    @abstractmethod
    def search(
        self,
        workspace: str,
        clauses: Sequence[Clause],
        order_by: Sequence[OrderBy],
        stages: Sequence[str],
        offset: int,
        limit: int,
    ) -> list[Experiment]: ...

    @abstractmethod
    def delete_tag(self, experiment_id: str, key: str) -> bool: ...

    @abstractmethod
    def list(self, workspace: str, stages: Sequence[str], offset: int, limit: int) -> list[Experiment]: ...

    @abstractmethod
    def update(
        self,
        experiment_id: str,
        *,
        actor: str,
        now: int,
        name: str | None = None,
        lifecycle_stage: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> None: ...


class RunRepository(ABC):
    @abstractmethod
    def create(self, run: Run, actor: str, now: int) -> int:
        """Insert the run with its params and tags; return its surrogate key."""

    @abstractmethod
    def ref(self, run_id: str) -> RunRef | None: ...

    @abstractmethod
    def get(self, run_id: str) -> Run | None: ...

    @abstractmethod
    def update(
        self,
        ref: RunRef,
        *,
        actor: str,
        now: int,
        status: str | None = None,
        end_time: int | None = None,
        name: str | None = None,
        lifecycle_stage: str | None = None,
    ) -> None: ...

    @abstractmethod
    def set_stage_in_experiment(self, experiment_id: str, stage: str, actor: str, now: int) -> None:
        """Move every run of the experiment to ``stage`` (MLflow deletes and restores them
        together with their experiment)."""

    @abstractmethod
    def params(self, ref: RunRef, keys: Sequence[str]) -> dict[str, str]: ...

    @abstractmethod
    def add_params(self, ref: RunRef, params: dict[str, str]) -> None: ...

    @abstractmethod
    def set_tags(self, ref: RunRef, tags: dict[str, str]) -> None: ...

    @abstractmethod
    def delete_tag(self, ref: RunRef, key: str) -> bool: ...

    @abstractmethod
    def search(
        self,
        experiment_ids: Sequence[str],
        clauses: Sequence[Clause],
        order_by: Sequence[OrderBy],
        stages: Sequence[str],
        offset: int,
        limit: int,
    ) -> list[Run]: ...


class MetricRepository(ABC):
    @abstractmethod
    def ingest(self, ref: RunRef, batch: MetricBatch, idempotency_key: str | None, now: int) -> bool:
        """Store the batch; return False (and store nothing) when the key was seen before."""

    @abstractmethod
    def history(
        self, ref: RunRef, key: str, after: tuple[int, int] | None, limit: int
    ) -> tuple[list[tuple[int, int, int, float]], int]:
        """Points (step, id, ts, value) after the (step, id) cursor, and the series' size."""

    @abstractmethod
    def chart(
        self, ref: RunRef, key: str, max_points: int
    ) -> tuple[list[tuple[int, int, float]], int] | None:
        """A large series as about ``max_points`` (step, ts, value) points, each block's lowest
        and highest at their own steps, read from its rollups; None when the series is small
        or has none (logged before rollups existed): then read its points."""


class RunIORepository(ABC):
    """A run's inputs (datasets, stored once per experiment) and outputs (logged models)."""

    @abstractmethod
    def add_inputs(self, ref: RunRef, inputs: Sequence[DatasetInput]) -> None: ...

    @abstractmethod
    def add_outputs(self, ref: RunRef, outputs: Sequence[ModelOutput]) -> None: ...

    @abstractmethod
    def add_model_inputs(self, ref: RunRef, model_ids: Sequence[str]) -> None:
        """Logged models the run read, by id; one already recorded is kept once."""

    @abstractmethod
    def of_runs(self, run_ids: Sequence[str]) -> dict[str, RunIO]: ...


class ArtifactIndex(ABC):
    @abstractmethod
    def record(self, ref: RunRef, path: str, size: int, sha256: str, actor: str, now: int) -> None: ...

    @abstractmethod
    def get(self, ref: RunRef, path: str) -> ArtifactRecord | None: ...

    @abstractmethod
    def under(self, ref: RunRef, prefix: str) -> list[ArtifactRecord]:
        """Every record whose path is ``prefix`` or lies below it (all of them for '')."""

    @abstractmethod
    def forget(self, ref: RunRef, paths: Sequence[str]) -> None:
        """Drop the records of deleted artifact files."""


class ModelRepository(ABC):
    @abstractmethod
    def create_model(
        self, workspace_id: int, name: str, description: str, tags: dict[str, str], actor: str, now: int
    ) -> None: ...

    @abstractmethod
    def model_id(self, workspace: str, name: str) -> int | None: ...

    @abstractmethod
    def get_model(self, model_id: int) -> RegisteredModel: ...

    @abstractmethod
    def list_models(
        self, workspace: str, name_like: str | None, offset: int, limit: int
    ) -> list[RegisteredModel]: ...

    @abstractmethod
    def update_model(
        self,
        model_id: int,
        actor: str,
        now: int,
        *,
        description: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> None: ...

    @abstractmethod
    def delete_model_tag(self, model_id: int, key: str) -> bool: ...

    @abstractmethod
    def search_models(
        self,
        workspace: str,
        clauses: Sequence[ModelClause],
        order: Sequence[ModelOrder],
        offset: int,
        limit: int,
    ) -> list[RegisteredModel]: ...

    @abstractmethod
    def rename_model(self, model_id: int, new_name: str, actor: str, now: int) -> None: ...

    @abstractmethod
    def delete_model(self, model_id: int) -> None:
        """Remove the model with its versions, tags and aliases (its history stays)."""

    @abstractmethod
    def create_version(self, model_id: int, version: ModelVersion, actor: str, now: int) -> int:
        """Insert the next version number for the model and return it."""

    @abstractmethod
    def get_version(self, model_id: int, version: int) -> ModelVersion | None: ...

    @abstractmethod
    def list_versions(self, model_id: int) -> list[ModelVersion]: ...

    @abstractmethod
    def latest_versions(self, workspace: str, names: Sequence[str]) -> dict[str, list[ModelVersion]]:
        """Per model name, the newest version in each stage that has one, by ascending number;
        one query for all the names (a search page), not one per model."""

    @abstractmethod
    def update_version(
        self,
        model_id: int,
        version: int,
        actor: str,
        now: int,
        *,
        description: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> None: ...

    @abstractmethod
    def delete_version_tag(self, model_id: int, version: int, key: str) -> bool: ...

    @abstractmethod
    def search_versions(
        self,
        workspace: str,
        clauses: Sequence[ModelClause],
        order: Sequence[ModelOrder],
        offset: int,
        limit: int,
    ) -> list[ModelVersion]: ...

    @abstractmethod
    def set_stage(self, model_id: int, version: int, stage: str, actor: str, now: int) -> None: ...

    @abstractmethod
    def delete_version(self, model_id: int, version: int) -> None:
        """Remove the version with its tags and the aliases pointing at it."""

    @abstractmethod
    def set_alias(self, model_id: int, alias: str, version: int) -> int | None:
        """Point ``alias`` at ``version``; return the version it pointed at before."""

    @abstractmethod
    def delete_alias(self, model_id: int, alias: str) -> int | None: ...

    @abstractmethod
    def add_event(self, event: ModelEvent, workspace_id: int) -> None: ...

    @abstractmethod
    def events(self, workspace: str, name: str, offset: int, limit: int) -> list[ModelEvent]: ...


class LoggedModelRepository(ABC):
    @abstractmethod
    def create(self, model: LoggedModel) -> None: ...

    @abstractmethod
    def get(self, workspace: str, model_id: str) -> LoggedModel | None: ...

    @abstractmethod
    def update(
        self,
        model_id: str,
        actor: str,
        now: int,
        *,
        status: str | None = None,
        status_message: str | None = None,
        lifecycle_stage: str | None = None,
    ) -> None: ...

    @abstractmethod
    def set_tags(self, model_id: str, tags: dict[str, str]) -> None: ...

    @abstractmethod
    def delete_tag(self, model_id: str, key: str) -> bool: ...

    @abstractmethod
    def add_params(self, model_id: str, params: dict[str, str]) -> None:
        """Insert or overwrite params."""

    @abstractmethod
    def artifact_location(self, workspace: str, model_id: str) -> str | None:
        """Where the files of an active model of ``workspace`` live; None when there is none."""

    @abstractmethod
    def active_ids(self, workspace: str, model_ids: Sequence[str]) -> set[str]:
        """Those of ``model_ids`` that name an active model of ``workspace``."""

    @abstractmethod
    def add_metrics(self, metrics: Sequence[LoggedModelMetric]) -> None:
        """Append points to the models they name (which exist)."""

    @abstractmethod
    def search(
        self,
        workspace: str,
        experiment_ids: Sequence[str],
        clauses: Sequence[Clause],
        order: Sequence[OrderBy],
        offset: int,
        limit: int,
        datasets: Sequence[tuple[str, str | None]] = (),
    ) -> list[LoggedModel]:
        """Active models; clauses on attributes name/status, tags and params. ``datasets``
        (name, digest or None): only models with a metric on one of them, as MLflow's
        ``datasets`` field of logged-model search."""


class UnitOfWork(ABC):
    """Repositories bound to one transaction, committed when the block exits cleanly.

    Each resource registers its repositories (``shipyard/resources/``); an implementation
    builds one when it is first used in the transaction. The attributes below are typed names
    for the resources that came first; a newer one's service asks by name and port type,
    ``uow[SCHEDULES]`` with a :class:`RepositoryKey` of its own, with no line added here.
    """

    workspaces: WorkspaceRepository
    experiments: ExperimentRepository
    runs: RunRepository
    metrics: MetricRepository
    run_io: RunIORepository
    artifacts: ArtifactIndex
    models: ModelRepository
    logged_models: LoggedModelRepository
    data_assets: DataAssetRepository
    environments: EnvironmentRepository
    computes: ComputeRepository
    jobs: JobRepository
    log_chunks: LogChunkRepository
    endpoints: EndpointRepository
    deployments: DeploymentRepository
    batch_endpoints: BatchEndpointRepository
    batch_deployments: BatchDeploymentRepository
    users: UserRepository
    tokens: TokenRepository
    roles: RoleRepository
    secrets: SecretRepository
    audit: AuditRepository

    def __getitem__(self, key: RepositoryKey[_R]) -> _R:
        """The repository a resource registered under ``key.name``, typed by the key."""
        return cast("_R", getattr(self, key.name))


class Database(ABC):
    kind: str

    @abstractmethod
    def read(self) -> AbstractContextManager[UnitOfWork]: ...

    @abstractmethod
    def write(self) -> AbstractContextManager[UnitOfWork]:
        """A write transaction; writers are serialised where the backend needs it (SQLite)."""

    @abstractmethod
    def ping(self) -> None:
        """Raise Unavailable when the database cannot be reached."""

    @abstractmethod
    def close(self) -> None: ...


class ArtifactStore(ABC):
    """Bytes on keys. Keys are clean relative paths (see ``domain.paths``)."""

    kind: str

    @abstractmethod
    def staging_file(self) -> AbstractContextManager[tuple[Path, BinaryIO]]:
        """A temporary local file to stream an upload into before :meth:`put`."""

    @abstractmethod
    def put(self, key: str, staged: Path) -> None:
        """Publish a staged file at ``key`` atomically: readers see the old or the new bytes."""

    @abstractmethod
    def get(self, key: str) -> BinaryIO:
        """Open ``key`` for streaming reads; raise NotFound when absent."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def list(self, prefix: str) -> Iterator[ObjectInfo]: ...

    @abstractmethod
    def delete(self, key: str) -> None: ...
