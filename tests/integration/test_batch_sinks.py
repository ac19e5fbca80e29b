"""The SQL targets of batch scoring, on real SQLite and PostgreSQL: the table is created with
the frame's columns, and writing a mini-batch again (a retry, a job run again) replaces its
rows instead of adding to them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
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


def test_a_column_that_cannot_be_a_sql_name_is_refused(tmp_path: Path) -> None:
    sink = open_sql_sink(f"sqlite:///{tmp_path / 'x.db'}", "preds", "job-1")
    with pytest.raises(ValueError, match="cannot be a SQL column"):
        sink.write(0, pd.DataFrame({"bad name;": [1]}))
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
            types = dict(
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
        "row": "bigint",
        "prediction": "double precision",
        "label": "text",
    }
