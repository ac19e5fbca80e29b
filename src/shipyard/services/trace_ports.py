"""The repository of traces, their spans and assessments (``stores/sql/traces.py``).

Reached as ``uow[TRACES]``. Traces are scoped by workspace through their experiment: every
lookup by trace id takes the workspace and answers None for a trace of another one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from shipyard.domain.trace_filters import TraceClause, TraceOrder
from shipyard.domain.traces import Assessment, Span, TraceInfo
from shipyard.services.ports import RepositoryKey

__all__ = ["TRACES", "StoredSpan", "TraceExperiment", "TraceRef", "TraceRepository"]


@dataclass(frozen=True, slots=True)
class TraceExperiment:
    """What a trace write needs of its experiment: one row, no tags."""

    id: str
    artifact_location: str
    lifecycle_stage: str


@dataclass(frozen=True, slots=True)
class TraceRef:
    """What a write needs of a trace: its row, experiment and state."""

    pk: int
    trace_id: str
    experiment_id: str
    artifact_location: str
    state: str


@dataclass(frozen=True, slots=True)
class StoredSpan:
    """A span as stored: inline (``payload_key`` None) or with its attributes, inputs,
    outputs and events in the artifact store at ``payload_key``."""

    span: Span
    payload_key: str | None


class TraceRepository(ABC):
    # -- trace info --------------------------------------------------------------------

    @abstractmethod
    def experiment(self, workspace: str, experiment_id: str) -> TraceExperiment | None:
        """The workspace's experiment with that id (None when unknown or not an id)."""

    @abstractmethod
    def ref(self, workspace: str, trace_id: str) -> TraceRef | None: ...

    @abstractmethod
    def refs(self, workspace: str, trace_ids: Sequence[str]) -> list[TraceRef]:
        """The traces of the workspace among ``trace_ids`` (unknown ones left out)."""

    @abstractmethod
    def ensure(self, info: TraceInfo) -> tuple[int, bool]:
        """The trace's pk, inserting the row with its tags and metadata when there is none
        (then True). A writer racing to insert the same trace waits for the other's commit.
        The row found may be another workspace's: the caller checks."""

    @abstractmethod
    def update(self, pk: int, info: TraceInfo) -> None:
        """Overwrite the trace's columns from ``info`` (its tags and metadata are merged
        separately)."""

    @abstractmethod
    def get(self, workspace: str, trace_ids: Sequence[str]) -> list[TraceInfo]:
        """Infos with tags, metadata and assessments, in the order of ``trace_ids``."""

    @abstractmethod
    def get_with_spans(
        self, workspace: str, trace_ids: Sequence[str]
    ) -> list[tuple[TraceInfo, list[StoredSpan]]]:
        """:meth:`get`, each info with its spans (as :meth:`spans` gives them)."""

    @abstractmethod
    def search(
        self,
        experiment_ids: Sequence[str],
        clauses: Sequence[TraceClause],
        order: Sequence[TraceOrder],
        offset: int,
        limit: int,
    ) -> list[str]:
        """Trace ids matching every clause, in order, a page at a time."""

    @abstractmethod
    def count(self, experiment_ids: Sequence[str], clauses: Sequence[TraceClause]) -> int:
        """How many traces of the experiments match every clause."""

    @abstractmethod
    def delete(self, pks: Sequence[int]) -> list[str]:
        """Delete the traces and everything of theirs; return the payload keys they held."""

    @abstractmethod
    def oldest(self, experiment_id: str, max_timestamp_ms: int | None, limit: int | None) -> list[int]:
        """Pks of the experiment's traces (older than ``max_timestamp_ms``), oldest first."""

    # -- tags, metadata, links ---------------------------------------------------------

    @abstractmethod
    def set_tags(self, pk: int, tags: dict[str, str]) -> None: ...

    @abstractmethod
    def delete_tag(self, pk: int, key: str) -> bool: ...

    @abstractmethod
    def add_metadata(self, pk: int, metadata: dict[str, str], *, overwrite: bool) -> None:
        """Add metadata keys; existing ones are replaced only with ``overwrite``."""

    @abstractmethod
    def link_run(self, pks: Sequence[int], run_id: str) -> None:
        """Link the traces to the run (again: no change)."""

    # -- spans -------------------------------------------------------------------------

    @abstractmethod
    def put_spans(
        self, batches: Sequence[tuple[int, Sequence[StoredSpan]]], *, fresh: Collection[int] = ()
    ) -> None:
        """Insert each trace's spans, replacing any of the same span id (none to replace in
        the ``fresh`` traces, created in this transaction)."""

    @abstractmethod
    def spans(self, pks: Sequence[int]) -> dict[int, list[StoredSpan]]:
        """Each trace's spans, by start time."""

    @abstractmethod
    def has_spans(self, pk: int) -> bool: ...

    # -- assessments -------------------------------------------------------------------

    @abstractmethod
    def add_assessment(self, pk: int, assessment: Assessment) -> None: ...

    @abstractmethod
    def assessment(self, pk: int, assessment_id: str) -> Assessment | None: ...

    @abstractmethod
    def replace_assessment(self, assessment: Assessment) -> None:
        """Overwrite the assessment of the same id."""

    @abstractmethod
    def delete_assessment(self, assessment_id: str) -> None: ...

    @abstractmethod
    def set_valid(self, assessment_id: str, valid: bool) -> None: ...


TRACES: RepositoryKey[TraceRepository] = RepositoryKey("traces")
