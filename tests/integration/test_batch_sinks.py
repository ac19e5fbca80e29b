"""The SQL targets of batch scoring, on real SQLite and PostgreSQL: the table is created with
the frame's columns, and writing a mini-batch again (a retry, a job run again) replaces its
rows instead of adding to them; every row carries ``scored_at`` (when it was written, what a
monitor selects its window by), and a table an older Shipyard made without it gains it."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the dev extra
import pytest

from shipyard.serving.batch._sinks import open_sql_sink


def _frame(start: int, n: int) -> pd.DataFrame:
    return pd.DataFrame({"row": range(start, start + n), "prediction": [0.5] * n, "label": ["a"] * n})


def _count_sqlite(path: Path) -> list[tuple[int, int, int]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT mini_batch, count(*), count(DISTINCT row) FROM preds GROUP BY mini_batch ORDER BY 1"
        ).fetchall()


def test_sqlite_table_is_created_and_a_rewritten_mini_batch_replaces_its_rows(tmp_path: Path) -> None:
    db = tmp_path / "out.db"
    sink = open_sql_sink(f"sqlite:///{db}", "preds", "job-1")
    sink.write(0, _frame(0, 10))
    sink.write(1, _frame(10, 7))
    sink.write(1, _frame(10, 7))  # the retry of mini-batch 1
    sink.close()
    assert _count_sqlite(db) == [(0, 10, 10), (1, 7, 7)]
    again = open_sql_sink(f"sqlite:///{db}", "preds", "job-2")  # another job appends beside
    again.write(0, _frame(0, 3))
    again.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT job_id, count(*) FROM preds GROUP BY 1 ORDER BY 1").fetchall() == [
            ("job-1", 17),
            ("job-2", 3),
        ]


def test_every_row_carries_when_its_mini_batch_was_written(tmp_path: Path) -> None:
    db = tmp_path / "out.db"
    before = time.time_ns() // 1_000_000
    sink = open_sql_sink(f"sqlite:///{db}", "preds", "job-1")
    sink.write(0, _frame(0, 4))
    sink.write(1, _frame(4, 2))
    sink.close()
    after = time.time_ns() // 1_000_000
    with sqlite3.connect(db) as conn:
        columns = [(r[1], r[2], r[3]) for r in conn.execute("PRAGMA table_info(preds)")]
        times = conn.execute(
            "SELECT mini_batch, min(scored_at), max(scored_at) FROM preds GROUP BY 1"
        ).fetchall()
    assert columns[:3] == [("job_id", "TEXT", 1), ("mini_batch", "INTEGER", 1), ("scored_at", "BIGINT", 1)]
    assert [c[0] for c in columns[3:]] == ["row", "prediction", "label"]
    (m0, lo0, hi0), (m1, lo1, hi1) = times
    assert (m0, m1) == (0, 1) and lo0 == hi0 and lo1 == hi1  # one time per mini-batch
    assert before <= lo0 <= lo1 <= after


def test_a_table_from_before_scored_at_gains_the_column_and_keeps_its_rows(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as conn:  # the table as an older Shipyard created it
        conn.execute(
            "CREATE TABLE preds (job_id TEXT NOT NULL, mini_batch INTEGER NOT NULL,"
            " row INTEGER, prediction REAL, label TEXT)"
        )
        conn.execute("INSERT INTO preds VALUES ('old-job', 0, 0, 0.5, 'a')")
    sink = open_sql_sink(f"sqlite:///{db}", "main.preds", "job-2")
    sink.write(0, _frame(0, 3))
    sink.close()
    again = open_sql_sink(f"sqlite:///{db}", "preds", "job-3")  # the column is there now
    again.write(0, _frame(0, 1))
    again.close()
    with sqlite3.connect(db) as conn:
        got = conn.execute(
            "SELECT job_id, count(*), count(scored_at) FROM preds GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert got == [("job-2", 3, 3), ("job-3", 1, 1), ("old-job", 1, 0)]


def test_a_column_that_cannot_be_a_sql_name_is_refused(tmp_path: Path) -> None:
    sink = open_sql_sink(f"sqlite:///{tmp_path / 'x.db'}", "preds", "job-1")
    with pytest.raises(ValueError, match="cannot be a SQL column"):
        sink.write(0, pd.DataFrame({"bad name;": [1]}))
    for own in ("job_id", "scored_at"):
        with pytest.raises(ValueError, match="scored_at are Shipyard's own"):
            sink.write(0, pd.DataFrame({own: [1], "prediction": [0.5]}))
    sink.close()


def test_postgresql_copy_is_idempotent_per_mini_batch(pg_database_url: str) -> None:
    from sqlalchemy import create_engine, text

    sink = open_sql_sink(pg_database_url, "public.preds", "job-1")
    sink.write(0, _frame(0, 1000))
    sink.write(1, _frame(1000, 500))
    sink.write(0, _frame(0, 1000))
    sink.close()
    engine = create_engine(pg_database_url)
    try:
        with engine.connect() as conn:
            got = conn.execute(
                text("SELECT mini_batch, count(*), count(DISTINCT row) FROM preds GROUP BY 1 ORDER BY 1")
            ).all()
            types: dict[str, str] = dict(
                conn.execute(
                    text(
                        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name='preds'"
                    )
                ).all()
            )
    finally:
        engine.dispose()
    assert [tuple(r) for r in got] == [(0, 1000, 1000), (1, 500, 500)]
    assert types == {
        "job_id": "text",
        "mini_batch": "integer",
        "scored_at": "bigint",
        "row": "bigint",
        "prediction": "double precision",
        "label": "text",
    }


def test_postgresql_table_from_before_scored_at_gains_the_column(pg_database_url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(pg_database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS old_preds"))
            conn.execute(
                text(
                    "CREATE TABLE old_preds (job_id TEXT NOT NULL, mini_batch INTEGER NOT NULL,"
                    " row BIGINT, prediction DOUBLE PRECISION, label TEXT)"
                )
            )
            conn.execute(text("INSERT INTO old_preds VALUES ('old-job', 0, 0, 0.5, 'a')"))
        before = time.time_ns() // 1_000_000
        sink = open_sql_sink(pg_database_url, "old_preds", "job-2")
        sink.write(0, _frame(0, 5))
        sink.close()
        with engine.connect() as conn:
            got = conn.execute(
                text(
                    "SELECT job_id, count(*), count(scored_at), min(scored_at) FROM old_preds"
                    " GROUP BY 1 ORDER BY 1"
                )
            ).all()
            nullable = conn.execute(
                text(
                    "SELECT is_nullable FROM information_schema.columns"
                    " WHERE table_name='old_preds' AND column_name='scored_at'"
                )
            ).scalar_one()
    finally:
        engine.dispose()
    assert [tuple(r[:3]) for r in got] == [("job-2", 5, 5), ("old-job", 1, 0)]
    assert got[0][3] >= before and nullable == "YES"
