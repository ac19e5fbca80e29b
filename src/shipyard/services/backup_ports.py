"""What backup, restore, migrate and gc need from the metadata store.

A :class:`MetadataSnapshot` is one consistent view of every table (SQLite's backup API,
PostgreSQL's repeatable-read transaction) read as plain rows, so the same dump restores into
either backend. A :class:`MetadataStore` opens snapshots and loads one into a database as a
single all-or-nothing step. The SQL implementation is :mod:`shipyard.stores.sql.backup_store`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ArtifactRoots", "MetadataSnapshot", "MetadataStore", "Row", "Rows", "TableSpec"]

Row = Sequence[Any]
"""One row: ints, floats (±inf), strings, booleans and None, in the table's column order."""


@dataclass(frozen=True, slots=True)
class TableSpec:
    name: str
    columns: tuple[str, ...]
    text: tuple[str, ...] = ()
    """The columns holding text: where a snapshot digest or a blob's hash can be named."""
    floats: tuple[str, ...] = ()
    """The columns holding floats: where ±inf can be (NaN is stored as NULL)."""


@dataclass(frozen=True, slots=True)
class ArtifactRoots:
    """The artifact keys a snapshot's records point to."""

    indexed: Mapping[str, str] = field(default_factory=dict)
    """Key → sha256 of every file of the run artifact index: a run's artifacts are the files
    its index lists (what the API lists and the MLflow client downloads)."""
    owned: frozenset[str] = frozenset()
    """Roots a record owns whole: each logged model's (its files are not indexed)."""
    keys: frozenset[str] = frozenset()
    """Other single keys a record names: the chunks of job and deployment logs."""
    managed: frozenset[str] = frozenset()
    """Folders Shipyard fills only for records (each experiment's, each workspace's logs):
    a key in one that no record points to is garbage."""


class Rows(ABC):
    """Every table's rows at one schema revision: a snapshot, or the tables of a backup file."""

    kind: str
    """``sqlite`` or ``postgresql``: the database the rows were read from."""
    revision: str
    """The schema revision (the Alembic id) the rows are in."""

    @abstractmethod
    def tables(self) -> list[TableSpec]:
        """Every table, parents before the tables that refer to them."""

    @abstractmethod
    def chunks(self, table: TableSpec, columns: Sequence[str] | None = None) -> Iterator[list[Row]]:
        """The table's rows (only ``columns`` when given) in primary-key order, a chunk at a time."""


class MetadataSnapshot(Rows):
    """One consistent view of a live metadata store, open until its context ends."""

    @abstractmethod
    def artifact_roots(self) -> ArtifactRoots: ...


class MetadataStore(ABC):
    """A metadata database seen whole: snapshots out, an all-or-nothing load in."""

    kind: str

    @abstractmethod
    def snapshot(self, scratch: Path | None = None) -> AbstractContextManager[MetadataSnapshot]:
        """A consistent snapshot. ``scratch``: a folder for a private copy of a SQLite file,
        so the live database is read for the copy's duration only (None: read it in place)."""

    @abstractmethod
    def occupied(self) -> dict[str, int]:
        """Tables holding rows, with their counts; empty for a database that holds nothing."""

    @abstractmethod
    def sessions(self) -> list[str]:
        """Who else has the database open (servers), as sentences; empty when nobody does."""

    @abstractmethod
    def load(
        self,
        source: Rows,
        *,
        replace: bool = False,
        before_commit: Callable[[], None] | None = None,
    ) -> dict[str, int]:
        """Make this database hold exactly ``source``'s rows at the newest schema, in one step
        that leaves the database as it was when it fails. ``replace``: drop what it holds
        first. ``before_commit`` runs once every row is in, just before the step that makes
        them visible; when it raises, nothing is. Returns the rows loaded per table."""

    @abstractmethod
    def close(self) -> None: ...
