"""Production data from SQL: a monitor's window read from the table a batch endpoint writes.

``production_data.input_data: {type: sql, connection: "${{secrets.NAME}}", query: …}`` — the
lead resolves the secret into a URL and calls :func:`sql_batches`, which runs the query with
the window bound as parameters and streams the rows in Arrow record batches, so a large
window never sits in memory whole (a server-side cursor on PostgreSQL; ``fetchmany`` on
SQLite). The query may use:

    :window_start, :window_end         the window's bounds as datetimes, in UTC
    :window_start_ms, :window_end_ms   the same as integers, ms since the epoch

SQLite has no datetime type: there the datetimes are bound as text ``YYYY-MM-DD HH:MM:SS``
(UTC), the form SQLite's own ``datetime()`` writes and compares. On PostgreSQL they are
timezone-aware, so they compare rightly with ``timestamptz`` and (as UTC) ``timestamp``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.domain.redact import hide_passwords
from shipyard.errors import InvalidArgument, Unavailable
from shipyard.specs.monitor_signals import SQL_WINDOW_PARAMETERS

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["sql_batches"]


_SQLALCHEMY_SCHEMES = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg"}


def sql_batches(
    url: str, query: str, start_ms: int, end_ms: int, chunk_rows: int = 65536
) -> Iterator[pa.RecordBatch]:
    """The query's rows for the window [start_ms, end_ms), ``chunk_rows`` at a time.

    A column keeps the Arrow type of its first non-null values in every batch; numeric
    (``DECIMAL``) columns arrive as float64, which the drift metrics need."""
    import sqlalchemy as sa

    engine = _engine(url)
    params = _window(start_ms, end_ms, sqlite=engine.dialect.name == "sqlite")
    types: dict[str, pa.DataType] = {}
    try:
        with _connect(engine, url) as conn:
            result = conn.execution_options(stream_results=True, max_row_buffer=chunk_rows).execute(
                sa.text(query), params
            )
            names = list(result.keys())
            for rows in result.partitions(chunk_rows):
                yield _batch(names, rows, types)
    except sa.exc.DBAPIError as exc:
        raise InvalidArgument(
            f"the monitor's SQL query failed on {hide_passwords(url)}: {str(exc.orig).strip()};"
            f" check the query (window parameters: {', '.join(':' + p for p in SQL_WINDOW_PARAMETERS)})"
        ) from None
    except sa.exc.StatementError as exc:
        raise InvalidArgument(f"the monitor's SQL query cannot run: {exc}") from None
    finally:
        engine.dispose()


def _engine(url: str) -> Any:
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    scheme, sep, rest = url.partition("://")
    if sep:
        url = f"{_SQLALCHEMY_SCHEMES.get(scheme.lower(), scheme)}://{rest}"
    try:
        return sa.create_engine(url, poolclass=NullPool)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
        raise InvalidArgument(
            f"'{hide_passwords(url)}' is not a database URL this server can open ({exc}); write"
            " sqlite:////absolute/path.db or postgresql://user@host:5432/database"
        ) from None


def _connect(engine: Any, url: str) -> Any:
    import sqlalchemy as sa

    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if not database or database == ":memory:" or not Path(database).is_file():
            raise InvalidArgument(
                f"'{url}' names no SQLite database file: give an existing file's absolute path"
            )
    try:
        return engine.connect()
    except sa.exc.DBAPIError as exc:
        raise Unavailable(f"cannot connect to {hide_passwords(url)}: {str(exc.orig).strip()}") from None


def _window(start_ms: int, end_ms: int, *, sqlite: bool) -> dict[str, object]:
    if end_ms <= start_ms:
        raise InvalidArgument(f"the window [{start_ms}, {end_ms}) is empty: its end must be after its start")
    start = dt.datetime.fromtimestamp(start_ms / 1000, tz=dt.UTC)
    end = dt.datetime.fromtimestamp(end_ms / 1000, tz=dt.UTC)
    if sqlite:
        return {
            "window_start": _sqlite_text(start),
            "window_end": _sqlite_text(end),
            "window_start_ms": start_ms,
            "window_end_ms": end_ms,
        }
    return {"window_start": start, "window_end": end, "window_start_ms": start_ms, "window_end_ms": end_ms}


def _sqlite_text(at: dt.datetime) -> str:
    naive = at.replace(tzinfo=None)
    return naive.isoformat(sep=" ", timespec="microseconds" if naive.microsecond else "seconds")


def _batch(names: list[str], rows: Any, types: dict[str, pa.DataType]) -> pa.RecordBatch:
    import pyarrow as pa

    columns = []
    for index, name in enumerate(names):
        values = [row[index] for row in rows]
        if any(isinstance(v, Decimal) for v in values):
            values = [float(v) if isinstance(v, Decimal) else v for v in values]
        known = types.get(name)
        try:
            array = pa.array(values, type=known)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
            raise InvalidArgument(
                f"column {name!r} of the monitor's SQL query changes type between rows"
                f" ({known} before): {exc}"
            ) from None
        if known is None and not pa.types.is_null(array.type):
            types[name] = array.type
        columns.append(array)
    return pa.RecordBatch.from_arrays(columns, names=names)
