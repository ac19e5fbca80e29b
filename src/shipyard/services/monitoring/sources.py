"""Where a monitor run reads its data: the port :class:`MonitorSources`, which the engine
(:mod:`.engine`) computes over, so the engine is tested on tables and the server plugs in its
stores (:mod:`.server_sources`).

Every method answers Arrow: a reference as one table (it is profiled once), a production
window as batches (streamed, so its size does not bound what can be monitored).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["Collection", "MonitorSources", "Reference"]

Collection = Literal["model_inputs", "model_outputs", "feedback"]


@dataclass(frozen=True)
class Reference:
    """A reference table and what it is, for the report (``credit-train:3, the training data
    of model credit:2 (job amber-dock-123)``); ``key`` identifies its content, so its profile
    is computed once and kept."""

    table: pa.Table
    description: str
    key: str


class MonitorSources(ABC):
    @abstractmethod
    def training_data(self, endpoint: str, deployment: str) -> Reference:
        """The data the deployment's model was trained on, found through its lineage
        (deployment → model version → the run that logged it → that job's data inputs)."""

    @abstractmethod
    def asset(self, reference: str) -> Reference:
        """A data asset (``azureml:name:version``, ``azureml:name@latest``) read as a table."""

    @abstractmethod
    def collected(
        self, endpoint: str, deployment: str, collection: Collection, start_ms: int, end_ms: int
    ) -> Iterator[pa.RecordBatch]:
        """What the deployment collected in [start, end): inputs, outputs or feedback, one row
        per instance with ``request_id`` and ``row``."""

    @abstractmethod
    def sql(self, connection: str, query: str, start_ms: int, end_ms: int) -> Iterator[pa.RecordBatch]:
        """A query's rows (a batch endpoint's output table); ``connection`` may be a
        ``${{secrets.NAME}}`` reference."""

    @abstractmethod
    def system(
        self, endpoint: str, deployment: str, start_ms: int, end_ms: int
    ) -> Mapping[str, float | None]:
        """The deployment's request rate, latency, errors, CPU and memory over the window."""

    @abstractmethod
    def secret(self, name: str) -> str:
        """A secret's value (a webhook's signing key), as the monitor's creator may read it."""

    def drain_notes(self) -> list[str]:
        """What reading the data since the last call left to say (rows that could not be
        parsed, a column whose type varied): shown in the signal's notes."""
        return []

    def stored_profile(self, key: str) -> Mapping[str, object] | None:
        """A reference's profile computed by an earlier run (None: compute it)."""
        return None

    def store_profile(self, key: str, profile: Mapping[str, object]) -> None:  # noqa: B027 - optional
        """Keep a reference's profile for the next runs (by default: not kept)."""
