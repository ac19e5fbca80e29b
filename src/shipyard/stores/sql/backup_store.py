"""The metadata store seen whole, for backup, restore and migrate (:mod:`shipyard.services.backup_ports`).

Snapshots are consistent without stopping anyone: a SQLite file is copied by SQLite's online
backup API in one step (a read transaction for the copy's duration, which under WAL blocks no
writer), then read at leisure; PostgreSQL is read inside one ``REPEATABLE READ READ ONLY``
transaction, as ``pg_dump`` does. Rows are read and written as plain values, so a SQLite
snapshot loads into PostgreSQL and back.

A load is all or nothing. SQLite: a new file is built beside the target and renamed over it.
PostgreSQL: one transaction drops Shipyard's tables, creates them and ``COPY``s the rows in.
Rows at an older schema revision go through a scratch SQLite file migrated to the newest
revision first, so the target is only ever written at :data:`~shipyard.stores.sql.migrate.HEAD`.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Float, String, create_engine, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.pool import NullPool

from shipyard.errors import Conflict, InvalidArgument, Unavailable
from shipyard.services.backup_ports import (
    ArtifactRoots,
    MetadataSnapshot,
    MetadataStore,
    Row,
    Rows,
    TableSpec,
)
from shipyard.stores.sql import migrate
from shipyard.stores.sql import schema as s
from shipyard.stores.sql import schema_traces as s_traces
from shipyard.stores.sql.engine import build_engine
from shipyard.stores.sql.sqlite_host import live_claims
from shipyard.stores.sql.tables import metadata

__all__ = ["CHUNK_ROWS", "SqlMetadataStore", "known_revisions"]

CHUNK_ROWS = 5000
_VERSION_TABLE = "alembic_version"


def known_revisions() -> list[str]:
    """Every schema revision this version of Shipyard can migrate from, oldest first."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(Path(migrate.__file__).parent / "migrations"))
    return [
        script.revision for script in reversed(list(ScriptDirectory.from_config(config).walk_revisions()))
    ]


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def _names(conn: Connection, names: Iterable[str]) -> str:
    return ", ".join(_quote(conn, name) for name in names)


class _SqlSnapshot(MetadataSnapshot):
    def __init__(self, conn: Connection, kind: str) -> None:
        self.conn = conn
        self.kind = kind
        present = set(inspect(conn).get_table_names())
        if _VERSION_TABLE not in present:
            raise InvalidArgument(
                "the database holds no Shipyard metadata (no schema revision): is it the right one?"
            )
        revision = conn.exec_driver_sql(f"SELECT version_num FROM {_VERSION_TABLE}").scalar()  # noqa: S608
        if revision is None:
            raise InvalidArgument("the database's schema revision is empty: it was never fully created")
        self.revision = str(revision)
        self._tables = self._describe(present)

    def _describe(self, present: set[str]) -> list[TableSpec]:
        inspector = inspect(self.conn)
        specs = []
        for table in metadata.sorted_tables:  # parents first
            if table.name not in present:
                continue  # a table newer than this database's revision
            columns = tuple(c["name"] for c in inspector.get_columns(table.name))
            text = tuple(c for c in columns if c in table.c and isinstance(table.c[c].type, String))
            floats = tuple(c for c in columns if c in table.c and isinstance(table.c[c].type, Float))
            specs.append(TableSpec(table.name, columns, text, floats))
        return specs

    def tables(self) -> list[TableSpec]:
        return list(self._tables)

    def chunks(self, table: TableSpec, columns: Sequence[str] | None = None) -> Iterator[list[Row]]:
        wanted = list(columns or table.columns)
        order = [c.name for c in metadata.tables[table.name].primary_key.columns] or wanted
        # Our schema's own names, quoted.
        columns, name, keys = (
            _names(self.conn, wanted),
            _quote(self.conn, table.name),
            _names(self.conn, order),
        )
        sql = f"SELECT {columns} FROM {name} ORDER BY {keys}"  # noqa: S608
        # The driver's own cursor, in this connection's transaction: SQLAlchemy's rows would
        # cost more than the reading. On PostgreSQL a named (server-side) cursor, so a table
        # of millions of points is never held whole.
        raw: Any = self.conn.connection.dbapi_connection
        cursor = raw.cursor() if self.kind == "sqlite" else raw.cursor(name=f"shipyard_backup_{table.name}")
        try:
            cursor.execute(sql)
            while chunk := cursor.fetchmany(CHUNK_ROWS):
                yield chunk
        finally:
            cursor.close()

    def artifact_roots(self) -> ArtifactRoots:
        names = {spec.name for spec in self._tables}
        owned: set[str] = set()
        managed = self._values(s.experiments.c.artifact_location)
        # Job and deployment logs: chunks under <workspace>/_logs, each named by its row.
        managed |= {f"{name}/_logs" for name in self._values(s.workspaces.c.name)}
        if "logged_models" in names:
            owned |= self._values(s.logged_models.c.artifact_location)
        keys: set[str] = set()
        if "log_chunks" in names:
            keys = {str(v) for v in self.conn.exec_driver_sql('SELECT "key" FROM log_chunks').scalars()}
        if "trace_spans" in names:  # span payloads past the inline limit (services/trace_payloads.py)
            keys |= self._values(s_traces.trace_spans.c.payload_path)
        if "traces" in names:  # each trace's attachments (services/proxied_artifacts.py), named by no row
            folders = select(s.experiments.c.artifact_location, s_traces.traces.c.trace_id).join(
                s.experiments, s.experiments.c.id == s_traces.traces.c.experiment_id
            )
            owned |= {
                f"{location}/traces/{trace_id}/artifacts" for location, trace_id in self.conn.execute(folders)
            }
        joined = select(s.runs.c.artifact_uri, s.artifacts.c.path, s.artifacts.c.sha256).join(
            s.runs, s.runs.c.pk == s.artifacts.c.run_pk
        )
        indexed = {f"{uri}/{path}": sha for uri, path, sha in self.conn.execute(joined)}
        return ArtifactRoots(
            owned=frozenset(owned), keys=frozenset(keys), managed=frozenset(managed), indexed=indexed
        )

    def _values(self, column: ColumnElement[Any]) -> set[str]:
        return {str(v) for v in self.conn.execute(select(column)).scalars() if v}


class SqlMetadataStore(MetadataStore):
    """A SQLite file or a PostgreSQL database, by SQLAlchemy URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = make_url(url)
        self.kind = parsed.get_backend_name()
        if self.kind not in ("sqlite", "postgresql"):
            raise InvalidArgument(
                f"{parsed.render_as_string()}: give a sqlite:/// or postgresql+psycopg:// URL"
            )
        self.path: Path | None = None
        if self.kind == "sqlite":
            if not parsed.database or parsed.database == ":memory:":
                raise InvalidArgument(f"{url}: name a database file, e.g. sqlite:////path/to/shipyard.db")
            self.path = Path(parsed.database).expanduser().resolve()
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = build_engine(self.url)
        return self._engine

    def describe(self) -> str:
        """The database as a person names it: the file, or the URL without its password."""
        return str(self.path) if self.path is not None else make_url(self.url).render_as_string()

    # -- reading -------------------------------------------------------------------------

    @contextmanager
    def snapshot(self, scratch: Path | None = None) -> Iterator[MetadataSnapshot]:
        try:
            if self.path is None:
                yield from self._pg_snapshot()
            elif scratch is None:
                self.require()
                with self.engine.connect() as conn, conn.begin():  # SQLite: BEGIN; reads see one state
                    yield _SqlSnapshot(conn, "sqlite")
            else:
                yield from self._sqlite_copy(scratch)
        except OperationalError as exc:
            raise Unavailable(f"cannot read the metadata store {self.describe()}: {exc.orig}") from exc

    def _pg_snapshot(self) -> Iterator[MetadataSnapshot]:
        options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        with self.engine.connect().execution_options(**options) as conn, conn.begin():
            yield _SqlSnapshot(conn, "postgresql")

    def require(self) -> None:
        """Refuse a SQLite file that is not there (reading would make an empty one)."""
        if self.path is not None and not self.path.is_file():
            raise InvalidArgument(
                f"there is no database at {self.path}: are --home and --database-url the server's?"
            )

    def _sqlite_copy(self, scratch: Path) -> Iterator[MetadataSnapshot]:
        assert self.path is not None
        self.require()
        folder = Path(tempfile.mkdtemp(dir=scratch, prefix=".shipyard-snapshot-"))
        copy = folder / "snapshot.db"
        engine = None
        try:
            source = sqlite3.connect(self.path, timeout=60)
            target = sqlite3.connect(copy)
            try:
                source.backup(target)  # pages=-1: the whole file in one step, one consistent state
            finally:
                target.close()
                source.close()
            engine = create_engine(f"sqlite:///{copy}", poolclass=NullPool)
            with engine.connect() as conn:
                yield _SqlSnapshot(conn, "sqlite")
        finally:
            if engine is not None:
                engine.dispose()
            shutil.rmtree(folder, ignore_errors=True)

    def occupied(self) -> dict[str, int]:
        if self.path is not None and not self.path.exists():
            return {}
        try:
            with self.engine.connect() as conn:
                counts = _occupied(conn)
                conn.rollback()
                return counts
        except OperationalError as exc:
            raise Unavailable(f"cannot open the database {self.describe()}: {exc.orig}") from exc

    def sessions(self) -> list[str]:
        if self.path is not None:
            return [claim.describe() for claim in live_claims(self.path)]
        sql = (
            "SELECT coalesce(application_name, ''), coalesce(client_addr::text, 'local')"
            " FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        try:
            with self.engine.connect() as conn:
                rows = conn.exec_driver_sql(sql).all()
                conn.rollback()
        except (OperationalError, ProgrammingError) as exc:
            raise Unavailable(f"cannot open the database {self.describe()}: {exc}") from exc
        return [f"a session from {addr}" + (f" ({app})" if app else "") for app, addr in rows]

    # -- writing -------------------------------------------------------------------------

    def load(
        self,
        source: Rows,
        *,
        replace: bool = False,
        before_commit: Callable[[], None] | None = None,
    ) -> dict[str, int]:
        if source.revision != migrate.HEAD:
            with _upgraded(source) as upgraded:
                return self.load(upgraded, replace=replace, before_commit=before_commit)
        _check_tables(source)
        if self.path is not None:
            return self._load_sqlite(source, before_commit or (lambda: None))
        return self._load_postgresql(source, replace, before_commit or (lambda: None))

    def _load_sqlite(self, source: Rows, before_commit: Callable[[], None]) -> dict[str, int]:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.restore-")
        os.close(fd)
        built = Path(name)
        try:
            counts = _build_sqlite(built, source)
            with built.open("rb") as handle:
                os.fsync(handle.fileno())
            before_commit()
            # A write-ahead log left by the old file would be replayed into the new one.
            for suffix in ("-wal", "-shm", "-journal"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            os.replace(built, self.path)
            _fsync_dir(self.path.parent)
        except BaseException:
            built.unlink(missing_ok=True)
            raise
        return counts

    def _load_postgresql(
        self, source: Rows, replace: bool, before_commit: Callable[[], None]
    ) -> dict[str, int]:
        with self.engine.connect() as conn, conn.begin():
            held = _occupied(conn)
            foreign = sorted(set(held) - set(metadata.tables))
            if foreign:
                raise Conflict(
                    f"the database holds tables that are not Shipyard's ({', '.join(foreign[:10])}):"
                    " give Shipyard a database of its own"
                )
            if held and not replace:
                raise Conflict(f"{self.describe()} already holds data")
            # Empty tables of an earlier attempt or another revision go too: the load makes HEAD.
            metadata.drop_all(conn, checkfirst=True)
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {_VERSION_TABLE}")
            _create_schema(conn)
            counts = {spec.name: _insert(conn, spec, source.chunks(spec)) for spec in source.tables()}
            _reset_sequences(conn)
            before_commit()
        return counts

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def _occupied(conn: Connection) -> dict[str, int]:
    counts = {}
    for name in inspect(conn).get_table_names():
        if name == _VERSION_TABLE:
            continue
        table = _quote(conn, name)  # a name the database gave, quoted
        if conn.exec_driver_sql(f"SELECT 1 FROM {table} LIMIT 1").first() is not None:  # noqa: S608
            counts[name] = int(conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() or 0)  # noqa: S608
    return counts


def _check_tables(source: Rows) -> None:
    """The rows fit the newest schema: the same tables, each with the same columns."""
    given = {spec.name: set(spec.columns) for spec in source.tables()}
    for table in metadata.sorted_tables:
        if table.name not in given:
            raise InvalidArgument(f"the rows have no table {table.name!r} of schema revision {migrate.HEAD}")
        expected = {c.name for c in table.columns}
        if given[table.name] != expected:
            raise InvalidArgument(
                f"table {table.name!r} has columns {sorted(given[table.name])}, but revision"
                f" {migrate.HEAD} has {sorted(expected)}"
            )
    unknown = sorted(set(given) - set(metadata.tables))
    if unknown:
        raise InvalidArgument(f"the rows hold tables this Shipyard does not know: {', '.join(unknown)}")


def _create_schema(conn: Connection) -> None:
    metadata.create_all(conn)
    conn.exec_driver_sql(f"CREATE TABLE {_VERSION_TABLE} (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
    conn.exec_driver_sql(
        f"INSERT INTO {_VERSION_TABLE} (version_num) VALUES (?)"  # noqa: S608
        if conn.dialect.name == "sqlite"
        else f"INSERT INTO {_VERSION_TABLE} (version_num) VALUES (%s)",  # noqa: S608
        (migrate.HEAD,),
    )


def _insert(conn: Connection, spec: TableSpec, chunks: Iterable[list[Row]]) -> int:
    """Bulk insert, bypassing SQLAlchemy's per-row work: ``executemany`` on SQLite, ``COPY``
    on PostgreSQL (the same paths metric ingestion takes)."""
    raw: Any = conn.connection.dbapi_connection
    table, columns = _quote(conn, spec.name), _names(conn, spec.columns)
    count = 0
    if conn.dialect.name == "sqlite":
        sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' for _ in spec.columns)})"  # noqa: S608
        cursor = raw.cursor()
        try:
            for chunk in chunks:
                cursor.executemany(sql, chunk)
                count += len(chunk)
        finally:
            cursor.close()
        return count
    with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for chunk in chunks:
            for row in chunk:
                copy.write_row(row)
            count += len(chunk)
    return count


def _reset_sequences(conn: Connection) -> None:
    """Rows came with their ids: each serial column's sequence must continue after the largest."""
    for table in metadata.sorted_tables:
        for column in table.primary_key.columns:
            sequence = conn.exec_driver_sql(
                "SELECT pg_get_serial_sequence(%(t)s, %(c)s)", {"t": table.name, "c": column.name}
            ).scalar()
            if sequence is None:
                continue
            largest = f"SELECT max({_quote(conn, column.name)}) FROM {_quote(conn, table.name)}"  # noqa: S608
            conn.exec_driver_sql(
                f"SELECT setval(%(s)s, coalesce(({largest}), 0) + 1, false)", {"s": sequence}
            )


def _build_sqlite(path: Path, source: Rows, *, schema: str | None = None) -> dict[str, int]:
    """Fill the new file ``path`` with ``source``'s rows at revision ``schema`` (None: HEAD)."""
    if schema is not None:
        migrations = build_engine(f"sqlite:///{path}")
        try:
            migrate.run_migrations(migrations, schema)
        finally:
            migrations.dispose()
    engine = create_engine(f"sqlite:///{path}", poolclass=NullPool)
    try:
        with engine.begin() as conn:
            # A file nobody reads until it is complete: no need to wait for the disk per commit.
            conn.exec_driver_sql("PRAGMA synchronous=OFF")
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            if schema is None:
                _create_schema(conn)
            return {spec.name: _insert(conn, spec, source.chunks(spec)) for spec in source.tables()}
    finally:
        engine.dispose()


@contextmanager
def _upgraded(source: Rows) -> Iterator[Rows]:
    """``source`` brought to the newest revision through a scratch SQLite file."""
    known = known_revisions()
    if source.revision not in known:
        raise InvalidArgument(
            f"the rows are at schema revision {source.revision}, which this Shipyard (newest {migrate.HEAD})"
            " does not know: use the Shipyard version that wrote them"
        )
    folder = Path(tempfile.mkdtemp(prefix="shipyard-upgrade-"))
    try:
        scratch = SqlMetadataStore(f"sqlite:///{folder / 'upgrade.db'}")
        _build_sqlite(folder / "upgrade.db", source, schema=source.revision)
        migrate.run_migrations(scratch.engine)
        scratch.close()
        with scratch.snapshot() as upgraded:
            yield upgraded
        scratch.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not every platform opens folders; the rename is atomic all the same
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
