"""The SQL implementation of :class:`~shipyard.services.ports.Database`."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from shipyard.errors import AlreadyExists, InvalidArgument, Unavailable
from shipyard.services.ports import Database, UnitOfWork
from shipyard.stores.sql.engine import WRITE_OPTION, build_engine
from shipyard.stores.sql.integrity import holds_nul, is_unique_violation
from shipyard.stores.sql.migrate import upgrade
from shipyard.stores.sql.repositories import repository_class

__all__ = ["SqlDatabase"]

# Operational errors that mean "the database is unreachable or busy", worth a 503 and a
# retry. Anything else (a missing column, a syntax error) is our bug and must stay a 500.
_TRANSIENT = (
    "locked",
    "busy",
    "connect",
    "connection",
    "timeout",
    "timed out",
    # PostgreSQL gave up one of two transactions that crossed (servers sharing a database):
    # nothing was written, and the same request again succeeds.
    "deadlock detected",
    "could not serialize access",
    "unable to open",
    "server closed",
)


_NUL_REFUSED = "a value holds a NUL (\\x00) character, which no name, tag or text here may hold; remove it"


def _unavailable(exc: OperationalError) -> Exception:
    message = str(exc.orig).lower()
    if exc.connection_invalidated or any(word in message for word in _TRANSIENT):
        return Unavailable(f"metadata store unavailable: {exc.orig}")
    return exc


class SqlUnitOfWork(UnitOfWork):
    """Repositories are built on first use, then kept for the transaction: most transactions
    touch one or two of the ~20 the resources register."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def __getattr__(self, name: str) -> Any:
        # Called only for an attribute not set yet: build the repository and keep it on the
        # instance, where later reads find it without coming here.
        if name.startswith("_"):
            raise AttributeError(name)
        repository = repository_class(name)(self.conn)
        setattr(self, name, repository)
        return repository


# SQLite keeps no table statistics unless asked. Without them the planner starts a search
# from whichever filter it meets first (e.g. a metric half the runs pass) instead of the
# selective one: 40 ms instead of 6 ms over 10,000 runs. Refresh them at start and every
# so many writes; analysis_limit keeps each refresh to a few milliseconds at any size.
_ANALYZED_TABLES = ("experiments", "runs", "params", "run_tags", "metric_series", "registered_models")
_ANALYZE_EVERY = 5000


class SqlDatabase(Database):
    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.engine = build_engine(url)
        self.kind = self.engine.dialect.name
        # One writer at a time inside this process: SQLite allows one anyway, and waiting
        # on a Python lock is fair and prompt where SQLite's busy handler sleeps and retries.
        self._write_lock = threading.Lock() if self.kind == "sqlite" else None
        if migrate:
            try:
                upgrade(self.engine)
            except OperationalError as exc:
                raise Unavailable(f"cannot reach the metadata store: {exc.orig}") from exc
        self._writes = 0
        if self.kind == "sqlite":
            self._analyze()

    def _analyze(self) -> None:
        with self.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA analysis_limit=1000")
            for table in _ANALYZED_TABLES:
                conn.exec_driver_sql(f"ANALYZE {table}")
            conn.commit()

    @contextmanager
    def read(self) -> Iterator[UnitOfWork]:
        try:
            with self.engine.connect() as conn, conn.begin():
                yield SqlUnitOfWork(conn)
        except DataError as exc:
            if not holds_nul(exc):
                raise  # any other data error is a bug: a 500 with its traceback
            raise InvalidArgument(_NUL_REFUSED) from exc
        except OperationalError as exc:
            raise _unavailable(exc) from exc

    @contextmanager
    def write(self) -> Iterator[UnitOfWork]:
        if self._write_lock is None:
            yield from self._write()
            return
        with self._write_lock:
            yield from self._write()
            self._writes += 1
            if self._writes % _ANALYZE_EVERY == 0:
                self._analyze()

    def _write(self) -> Iterator[UnitOfWork]:
        try:
            with self.engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
                yield SqlUnitOfWork(conn)
        except IntegrityError as exc:
            # Repositories check uniqueness first; this catches the race two writers lose.
            # Any other integrity error is a bug and propagates as one (500, logged).
            if not is_unique_violation(exc):
                raise
            raise AlreadyExists(f"the record already exists ({exc.orig})") from exc
        except DataError as exc:
            if not holds_nul(exc):
                raise  # any other data error is a bug: a 500 with its traceback
            raise InvalidArgument(_NUL_REFUSED) from exc
        except OperationalError as exc:
            raise _unavailable(exc) from exc

    def ping(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                conn.rollback()
        except OperationalError as exc:
            raise Unavailable(f"cannot reach the metadata store: {exc.orig}") from exc

    def close(self) -> None:
        self.engine.dispose()
