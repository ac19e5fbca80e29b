"""Where a batch job's rows go.

:class:`SqlSink` writes each mini-batch into a table of a SQLite or PostgreSQL database,
created if missing with ``job_id``, ``mini_batch`` and ``scored_at`` (epoch milliseconds when
the mini-batch was written) first: ``scored_at`` is what a monitor's query selects its window
by (``WHERE scored_at >= :window_start_ms AND scored_at < :window_end_ms``). A table an older
Shipyard created without ``scored_at`` gains it (nullable: its old rows have no time). A
mini-batch is written in one transaction that first deletes what the same job wrote for the
same mini-batch: a retried mini-batch (or a job run again under its name) replaces its rows,
never duplicates them. SQLite gets ``executemany``; PostgreSQL ``COPY … FROM STDIN`` through
psycopg.
"""

from __future__ import annotations

import io
import re
import sqlite3
import time
from abc import ABC, abstractmethod
from typing import Any

__all__ = ["SqlSink", "open_sql_sink"]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

_KEYS = ("job_id", "mini_batch", "scored_at")
"""Shipyard's own columns, first in every row; a frame may not bring its own of these names."""


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _table(name: str) -> str:
    return ".".join(_quote(part) for part in name.split("."))


# Table and column names are checked (the spec's table pattern, _IDENT) and quoted before they
# reach these statements; the values always travel as parameters or COPY data.
def _create(table: str, columns: str) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS {table} (job_id TEXT NOT NULL, mini_batch INTEGER NOT NULL,"
        f" scored_at BIGINT NOT NULL, {columns})"
    )


def _probe(table: str) -> str:
    return f"SELECT * FROM {table} WHERE 1 = 0"  # noqa: S608


# Nullable: the rows an older Shipyard wrote have no time to put there.
def _add_scored_at(table: str, *, if_missing: bool) -> str:
    return f"ALTER TABLE {table} ADD COLUMN {'IF NOT EXISTS ' if if_missing else ''}scored_at BIGINT"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _delete(table: str, marker: str) -> str:
    return f"DELETE FROM {table} WHERE job_id = {marker} AND mini_batch = {marker}"  # noqa: S608


def _index(name: str, table: str) -> str:
    return f"CREATE INDEX IF NOT EXISTS {name} ON {table} (job_id, mini_batch)"


class SqlSink(ABC):
    """``write`` is called from one thread, one mini-batch at a time."""

    def __init__(self, table: str, job_id: str) -> None:
        self.table = table
        self.job_id = job_id
        self._columns: list[str] | None = None

    @abstractmethod
    def write(self, mini_batch: int, frame: Any) -> None:
        """Replace the rows of ``(job_id, mini_batch)`` with ``frame``'s, in one transaction."""

    @abstractmethod
    def close(self) -> None: ...

    def _column_names(self, frame: Any) -> list[str]:
        names = [str(c) for c in frame.columns]
        for name in names:
            if not _IDENT.match(name) or name in _KEYS:
                raise ValueError(
                    f"column {name!r} cannot be a SQL column here: use letters, digits and '_'"
                    " (job_id, mini_batch and scored_at are Shipyard's own)"
                )
        return names

    @staticmethod
    def _types(frame: Any, ints: str, floats: str, bools: str) -> list[str]:
        out = []
        for dtype in frame.dtypes:
            kind = getattr(dtype, "kind", "O")
            out.append(ints if kind in "iu" else floats if kind == "f" else bools if kind == "b" else "TEXT")
        return out


class SqliteSink(SqlSink):
    def __init__(self, path: str, table: str, job_id: str) -> None:
        super().__init__(table, job_id)
        self.conn = sqlite3.connect(path, timeout=60, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")

    def _ensure(self, frame: Any) -> list[str]:
        if self._columns is None:
            names = self._column_names(frame)
            types = self._types(frame, "INTEGER", "REAL", "INTEGER")
            cols = ", ".join(f"{_quote(n)} {t}" for n, t in zip(names, types, strict=True))
            table = _table(self.table)
            self.conn.execute(_create(table, cols))
            self._upgrade(table)
            index = _quote(f"ix_{self.table.replace('.', '_')}_job_mini_batch")
            self.conn.execute(_index(index, _quote(self.table.split(".")[-1])))
            self._columns = names
        return self._columns

    def _upgrade(self, table: str) -> None:
        if "scored_at" in {d[0] for d in self.conn.execute(_probe(table)).description}:
            return
        try:
            self.conn.execute(_add_scored_at(table, if_missing=False))
        except sqlite3.OperationalError as exc:
            # SQLite has no ADD COLUMN IF NOT EXISTS: another job may have added it meanwhile.
            if "duplicate column" not in str(exc):
                raise

    def write(self, mini_batch: int, frame: Any) -> None:
        names = self._ensure(frame)
        table = _table(self.table)
        columns = [frame[c].tolist() for c in frame.columns]
        n = len(frame)
        rows = zip([self.job_id] * n, [mini_batch] * n, [_now_ms()] * n, *columns, strict=True)
        placeholders = ", ".join("?" for _ in range(len(names) + len(_KEYS)))
        quoted = ", ".join([*_KEYS, *(_quote(c) for c in names)])
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.execute(_delete(table, "?"), (self.job_id, mini_batch))
            self.conn.executemany(f"INSERT INTO {table} ({quoted}) VALUES ({placeholders})", rows)  # noqa: S608
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


class PostgresSink(SqlSink):
    def __init__(self, url: str, table: str, job_id: str) -> None:
        super().__init__(table, job_id)
        import psycopg

        self.conn = psycopg.connect(url, autocommit=False)

    def _ensure(self, frame: Any) -> list[str]:
        if self._columns is None:
            names = self._column_names(frame)
            types = self._types(frame, "BIGINT", "DOUBLE PRECISION", "BOOLEAN")
            cols = ", ".join(f"{_quote(n)} {t}" for n, t in zip(names, types, strict=True))
            table = _table(self.table)
            index = _quote(f"ix_{self.table.replace('.', '_')}_job_mini_batch")
            with self.conn.transaction():
                self.conn.execute(_create(table, cols))
                # Probed first: ALTER TABLE locks the table out even when it changes nothing.
                if "scored_at" not in {d.name for d in self.conn.execute(_probe(table)).description or ()}:
                    self.conn.execute(_add_scored_at(table, if_missing=True))
                self.conn.execute(_index(index, table))
            self._columns = names
        return self._columns

    def write(self, mini_batch: int, frame: Any) -> None:
        names = self._ensure(frame)
        table = _table(self.table)
        text = io.StringIO()
        keyed = frame.copy(deep=False)
        keyed.insert(0, "scored_at", _now_ms())
        keyed.insert(0, "mini_batch", mini_batch)
        keyed.insert(0, "job_id", self.job_id)
        keyed.to_csv(text, header=False, index=False)
        quoted = ", ".join([*_KEYS, *(_quote(c) for c in names)])
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(_delete(table, "%s"), (self.job_id, mini_batch))
            with cur.copy(f"COPY {table} ({quoted}) FROM STDIN (FORMAT csv)") as copy:
                copy.write(text.getvalue())

    def close(self) -> None:
        self.conn.close()


def open_sql_sink(url: str, table: str, job_id: str) -> SqlSink:
    """``sqlite:////abs/path.db`` or ``postgresql[+psycopg]://…``; connects now, so a bad URL
    fails the job before any scoring."""
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    if scheme == "sqlite":
        return SqliteSink(rest[1:] if rest.startswith("/") else rest, table, job_id)
    if scheme in ("postgresql", "postgresql+psycopg", "postgres"):
        return PostgresSink(f"postgresql://{rest}", table, job_id)
    raise ValueError(f"{scheme}:// is not a SQLite or PostgreSQL URL")
