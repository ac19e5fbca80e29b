"""Metric ingestion and history: the hot path, written against the raw driver on purpose.

Bulk points skip SQLAlchemy's per-row parameter processing: SQLite gets one
``executemany`` of tuples, PostgreSQL a binary ``COPY``. Both run inside the unit of work's
transaction, so a batch is all-or-nothing together with its idempotency receipt.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import Connection, insert, select, update

from shipyard.services.ports import MetricBatch, MetricRepository, RunRef
from shipyard.stores.sql import schema as s
from shipyard.stores.sql._ids import new_id

__all__ = ["SqlMetricRepository"]

_Latest = tuple[int, int, float]  # (step, timestamp, value) ordered as MLflow orders "latest"


def _nan_last(value: float) -> float:
    return -math.inf if value != value else value


class _Series:
    __slots__ = ("count", "id", "latest", "max", "min")

    def __init__(
        self, series_id: int, latest: _Latest | None, lo: float | None, hi: float | None, count: int
    ) -> None:
        self.id = series_id
        self.latest = latest
        self.min = lo
        self.max = hi
        self.count = count


class SqlMetricRepository(MetricRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def ingest(self, ref: RunRef, batch: MetricBatch, idempotency_key: str | None, now: int) -> bool:
        if idempotency_key is not None:
            seen = self.conn.execute(
                select(s.ingest_receipts.c.key).where(s.ingest_receipts.c.key == idempotency_key)
            ).first()
            if seen is not None:
                return False
            self.conn.execute(
                insert(s.ingest_receipts).values(
                    key=idempotency_key, run_pk=ref.pk, points=len(batch), created_at=now
                )
            )
        if not len(batch):
            return True
        series = self._series(ref, set(batch.keys))
        rows = self._rows_and_aggregates(batch, series)
        self._insert_points(rows)
        for item in series.values():
            latest = item.latest
            assert latest is not None  # every series here received at least one point
            self.conn.execute(
                update(s.metric_series)
                .where(s.metric_series.c.id == item.id)
                .values(
                    last_step=latest[0],
                    last_ts=latest[1],
                    last_value=None if latest[2] != latest[2] else latest[2],
                    min_value=item.min,
                    max_value=item.max,
                    n_points=item.count,
                )
            )
        return True

    def _series(self, ref: RunRef, keys: set[str]) -> dict[str, _Series]:
        found: dict[str, _Series] = {}
        rows = self.conn.execute(
            select(s.metric_series).where(
                s.metric_series.c.run_pk == ref.pk, s.metric_series.c.key.in_(sorted(keys))
            )
        )
        for r in rows:
            value = math.nan if r.last_value is None else r.last_value
            found[r.key] = _Series(
                r.id, (r.last_step, r.last_ts, value), r.min_value, r.max_value, r.n_points
            )
        for key in sorted(keys - found.keys()):
            result = self.conn.execute(
                insert(s.metric_series).values(
                    run_pk=ref.pk, key=key, last_value=None, last_step=0, last_ts=0, n_points=0
                )
            )
            found[key] = _Series(new_id(result), None, None, None, 0)
        return found

    @staticmethod
    def _rows_and_aggregates(
        batch: MetricBatch, series: dict[str, _Series]
    ) -> list[tuple[int, int, int, float | None]]:
        rows: list[tuple[int, int, int, float | None]] = []
        append = rows.append
        for key, step, ts, value in zip(batch.keys, batch.steps, batch.timestamps, batch.values, strict=True):
            item = series[key]
            finite_or_inf = value == value
            append((item.id, step, ts, value if finite_or_inf else None))
            item.count += 1
            if finite_or_inf:
                if item.min is None or value < item.min:
                    item.min = value
                if item.max is None or value > item.max:
                    item.max = value
            latest = item.latest
            if latest is None or (step, ts, _nan_last(value)) > (latest[0], latest[1], _nan_last(latest[2])):
                item.latest = (step, ts, value)
        return rows

    def _insert_points(self, rows: list[tuple[int, int, int, float | None]]) -> None:
        raw: Any = self.conn.connection.dbapi_connection
        if self.conn.dialect.name == "postgresql":
            with (
                raw.cursor() as cursor,
                cursor.copy("COPY metric_points (series_id, step, ts, value) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            return
        if self.conn.dialect.name == "sqlite":
            cursor = raw.cursor()
            try:
                cursor.executemany(
                    "INSERT INTO metric_points (series_id, step, ts, value) VALUES (?, ?, ?, ?)", rows
                )
            finally:
                cursor.close()
            return
        self.conn.execute(
            insert(s.metric_points),
            [{"series_id": r[0], "step": r[1], "ts": r[2], "value": r[3]} for r in rows],
        )

    def history(
        self, ref: RunRef, key: str, after: tuple[int, int] | None, limit: int
    ) -> tuple[list[tuple[int, int, int, float]], int]:
        series = self.conn.execute(
            select(s.metric_series.c.id, s.metric_series.c.n_points).where(
                s.metric_series.c.run_pk == ref.pk, s.metric_series.c.key == key
            )
        ).first()
        if series is None:
            return [], 0
        series_id, total = series
        p = s.metric_points.c
        query = select(p.step, p.id, p.ts, p.value).where(p.series_id == series_id)
        if after is not None:
            query = query.where((p.step > after[0]) | ((p.step == after[0]) & (p.id > after[1])))
        query = query.order_by(p.step, p.id).limit(limit)
        # Compile once and fetch through the driver: 100k rows through the ORM-free Core
        # result path still costs ~4x what the raw cursor does.
        compiled = query.compile(self.conn)
        raw: Any = self.conn.connection.dbapi_connection
        cursor = raw.cursor()
        try:
            if self.conn.dialect.paramstyle == "qmark":
                params: Any = [compiled.params[name] for name in compiled.positiontup or []]
            else:
                params = compiled.params
            cursor.execute(str(compiled), params)
            points = [
                (step, pid, ts, math.nan if value is None else value)
                for step, pid, ts, value in cursor.fetchall()
            ]
        finally:
            cursor.close()
        return points, int(total)
