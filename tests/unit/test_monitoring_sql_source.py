"""A monitor's production window read from a SQL table: a real SQLite file, and PostgreSQL
when ``SHIPYARD_TEST_DATABASE_URL`` is set (a table of its own, dropped after)."""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from shipyard.errors import InvalidArgument, Unavailable
from shipyard.services.monitoring.sql_source import sql_batches
from tests.conftest import PG_URL

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
START_MS = int(START.timestamp() * 1000)
HOUR_MS = 3_600_000


def _rows(count: int) -> list[tuple[str, int, float, str, str]]:
    """(scored_at text, scored_at ms, income, segment, prediction), one a minute from START."""
    out = []
    for i in range(count):
        at = START + dt.timedelta(minutes=i)
        out.append((at.strftime("%Y-%m-%d %H:%M:%S"), START_MS + i * 60_000, 1000.0 + i, "ab"[i % 2], "yes"))
    return out


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    path = tmp_path / "predictions.db"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE preds (scored_at TEXT, scored_ms INTEGER, income REAL, segment TEXT, prediction TEXT)"
        )
        conn.executemany("INSERT INTO preds VALUES (?, ?, ?, ?, ?)", _rows(180))  # 3 hours
    return f"sqlite:///{path}"


def _table(batches: Iterator[pa.RecordBatch]) -> pa.Table:
    return pa.Table.from_batches(list(batches))


def test_the_window_is_bound_as_datetimes_and_streamed_in_chunks(sqlite_url: str) -> None:
    query = "SELECT income, segment FROM preds WHERE scored_at >= :window_start AND scored_at < :window_end"
    batches = list(sql_batches(sqlite_url, query, START_MS + HOUR_MS, START_MS + 2 * HOUR_MS, chunk_rows=25))
    assert [b.num_rows for b in batches] == [25, 25, 10]
    table = pa.Table.from_batches(batches)
    assert table.column_names == ["income", "segment"]
    assert table.schema.field("income").type == pa.float64()
    assert table.column("income").to_pylist() == [1000.0 + i for i in range(60, 120)]


def test_the_window_is_also_bound_in_ms(sqlite_url: str) -> None:
    query = "SELECT scored_ms FROM preds WHERE scored_ms >= :window_start_ms AND scored_ms < :window_end_ms"
    table = _table(sql_batches(sqlite_url, query, START_MS, START_MS + 10 * 60_000))
    assert table.column("scored_ms").to_pylist() == [START_MS + i * 60_000 for i in range(10)]


def test_an_empty_window_yields_no_rows(sqlite_url: str) -> None:
    query = "SELECT income FROM preds WHERE scored_at >= :window_start AND scored_at < :window_end"
    assert list(sql_batches(sqlite_url, query, START_MS + 10 * HOUR_MS, START_MS + 11 * HOUR_MS)) == []


def test_a_column_keeps_its_type_when_a_chunk_is_all_null(tmp_path: Path) -> None:
    path = tmp_path / "nulls.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (n INTEGER, x REAL)")
        conn.executemany("INSERT INTO t VALUES (?, ?)", [(1, None), (2, None), (3, 1.5), (4, 2.5)])
    batches = list(
        sql_batches(f"sqlite:///{path}", "SELECT n, x FROM t ORDER BY n", START_MS, START_MS + 1, 2)
    )
    assert (
        batches[0].schema.field("x").type == pa.null() and batches[1].schema.field("x").type == pa.float64()
    )
    assert pa.Table.from_batches(batches[1:]).column("x").to_pylist() == [1.5, 2.5]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SELECT nope FROM preds", "no such column"),
        ("SELECT * FROM missing_table", "no such table"),
        ("SELEKT 1", "syntax error"),
    ],
)
def test_a_bad_query_is_refused_with_the_database_s_reason(sqlite_url: str, query: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        list(sql_batches(sqlite_url, query, START_MS, START_MS + HOUR_MS))


@pytest.mark.parametrize(
    "url",
    ["mysql+nosuchdriver://u@h/db", "not a url", "sqlite:////no/such/file.db", "sqlite://"],
)
def test_a_bad_url_is_refused(url: str) -> None:
    with pytest.raises(InvalidArgument):
        list(sql_batches(url, "SELECT 1", START_MS, START_MS + HOUR_MS))


def test_an_empty_window_range_is_refused(sqlite_url: str) -> None:
    with pytest.raises(InvalidArgument, match="empty"):
        list(sql_batches(sqlite_url, "SELECT 1", START_MS, START_MS))


def test_an_unreachable_postgresql_says_so_without_its_password() -> None:
    with pytest.raises(Unavailable, match="cannot connect") as info:
        list(sql_batches("postgresql://u:hunter2@127.0.0.1:1/db", "SELECT 1", START_MS, START_MS + 1))
    assert "hunter2" not in str(info.value)


@pytest.mark.skipif(PG_URL is None, reason="SHIPYARD_TEST_DATABASE_URL is not set")
def test_postgresql_streams_a_window_of_a_timestamptz_table() -> None:
    import sqlalchemy as sa

    assert PG_URL is not None
    table = f"monitor_src_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(PG_URL)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(f"CREATE TABLE {table} (scored_at timestamptz, income numeric, segment text)")
            )
            conn.execute(
                sa.text(f"INSERT INTO {table} VALUES (:at, :income, :segment)"),
                [
                    {"at": START + dt.timedelta(minutes=i), "income": 1000 + i, "segment": "ab"[i % 2]}
                    for i in range(120)
                ],
            )
        query = f"SELECT income, segment FROM {table} WHERE scored_at >= :window_start AND scored_at < :window_end"
        batches = list(sql_batches(PG_URL, query, START_MS + HOUR_MS, START_MS + 2 * HOUR_MS, chunk_rows=16))
        result = pa.Table.from_batches(batches)
        assert result.num_rows == 60 and max(b.num_rows for b in batches) <= 16
        assert result.schema.field("income").type == pa.float64()  # numeric arrives as float64
        assert result.column("income").to_pylist()[0] == 1060.0
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
        engine.dispose()
