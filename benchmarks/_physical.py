"""The physical limit of ingestion: a bare ``sqlite3`` ``executemany`` of the same rows.

Same table shape and index as Shipyard's ``metric_points``, same pragmas as its engine
(WAL, ``synchronous=NORMAL``), a fresh file each time, one transaction.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from _dataset import BASE_TS, N_KEYS, metric_value
from _measure import say

_SCHEMA = """
CREATE TABLE metric_points (
    id INTEGER PRIMARY KEY,
    series_id INTEGER NOT NULL,
    step BIGINT NOT NULL,
    ts BIGINT NOT NULL,
    value FLOAT
);
CREATE INDEX ix_metric_points_series_step ON metric_points (series_id, step, id);
"""


def rows(points: int) -> list[tuple[int, int, int, float]]:
    """10 series, step after step, the order a training loop logs them in."""
    return [
        (series + 1, step, BASE_TS + step, metric_value(series, step))
        for step in range(points // N_KEYS)
        for series in range(N_KEYS)
    ]


def measure(work: Path, points: int, repeat: int) -> list[float]:
    data = rows(points)
    samples = []
    for i in range(repeat):
        path = work / f"physical-{i}.db"
        db = sqlite3.connect(path, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            start = time.perf_counter()
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT INTO metric_points (series_id, step, ts, value) VALUES (?, ?, ?, ?)", data)
            db.execute("COMMIT")
            samples.append(time.perf_counter() - start)
        finally:
            db.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    say(f"sqlite3 executemany of {len(data):,} rows: {', '.join(f'{s:.2f}' for s in samples)} s")
    return samples
