"""Metric ingestion and history: the hot path, written against the raw driver on purpose.

Bulk points skip SQLAlchemy's per-row parameter processing: SQLite gets one
``executemany`` of tuples, PostgreSQL a binary ``COPY``. Both run inside the unit of work's
transaction, so a batch is all-or-nothing together with its idempotency receipt.
"""

from __future__ import annotations

import math
import operator
from bisect import bisect_left
from collections.abc import Iterable
from itertools import chain, islice, repeat
from typing import Any

from sqlalchemy import Connection, Select, bindparam, func, insert, select, update

from shipyard.errors import Conflict
from shipyard.services.ports import MetricBatch, MetricRepository, MetricSeries, RunRef
from shipyard.stores.sql import schema as s
from shipyard.stores.sql._ids import new_id

__all__ = ["ROLLUP_FROM", "ROLLUP_SHIFTS", "SqlMetricRepository"]

# A series keeps rollups once it holds more points than this: below it, reading every point
# for a chart is as quick as reading rollups, and small series (most) pay nothing at ingest.
ROLLUP_FROM = 5_000
# Blocks of 2**10, 2**16 and 2**22 steps: a chart reads the finest level with few enough
# blocks, so dense series (steps 0..n) and sparse ones (steps as timestamps) both stay small.
ROLLUP_SHIFTS = (10, 16, 22)
_Block = list[Any]  # [min_step, min_ts, min_value, max_step, max_ts, max_value]
# Sent through the driver like the points (positional rows, no per-row parameter processing);
# "{p}" is the driver's placeholder.
_UPSERT_ROLLUP = (
    "INSERT INTO metric_rollups"
    " (series_id, shift, bucket, min_step, min_ts, min_value, max_step, max_ts, max_value)"
    " VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})"
    " ON CONFLICT (series_id, shift, bucket) DO UPDATE SET"
    # Every right-hand side reads the row as it was (SQLite and PostgreSQL alike).
    " min_step = CASE WHEN excluded.min_value < metric_rollups.min_value"
    " THEN excluded.min_step ELSE metric_rollups.min_step END,"
    " min_ts = CASE WHEN excluded.min_value < metric_rollups.min_value"
    " THEN excluded.min_ts ELSE metric_rollups.min_ts END,"
    " min_value = CASE WHEN excluded.min_value < metric_rollups.min_value"
    " THEN excluded.min_value ELSE metric_rollups.min_value END,"
    " max_step = CASE WHEN excluded.max_value > metric_rollups.max_value"
    " THEN excluded.max_step ELSE metric_rollups.max_step END,"
    " max_ts = CASE WHEN excluded.max_value > metric_rollups.max_value"
    " THEN excluded.max_ts ELSE metric_rollups.max_ts END,"
    " max_value = CASE WHEN excluded.max_value > metric_rollups.max_value"
    " THEN excluded.max_value ELSE metric_rollups.max_value END"
)
_UPSERT_QMARK = _UPSERT_ROLLUP.format(p="?")
_UPSERT_FORMAT = _UPSERT_ROLLUP.format(p="%s")


def _blocks(steps: Iterable[int], stamps: Iterable[int], values: Iterable[float | None]) -> dict[int, _Block]:
    """The finest level's blocks of some points (NaN skipped: a chart cannot place it)."""
    shift = ROLLUP_SHIFTS[0]
    out: dict[int, _Block] = {}
    for step, ts, value in zip(steps, stamps, values, strict=True):
        if value is None or value != value:
            continue
        bucket = step >> shift
        block = out.get(bucket)
        if block is None:
            out[bucket] = [step, ts, value, step, ts, value]
            continue
        if value < block[2]:
            block[0], block[1], block[2] = step, ts, value
        if value > block[5]:
            block[3], block[4], block[5] = step, ts, value
    return out


def _batch_blocks(steps: list[int], stamps: list[int], values: list[float]) -> dict[int, _Block]:
    """:func:`_blocks` of one batch's points. A batch is nearly always in step order and
    NaN-free: then each block is a slice whose min and max (and their first places) are
    found at C speed, not point by point — the rollups' cost at ingest."""
    if any(map(math.isnan, values)) or not all(map(operator.le, steps, islice(steps, 1, None))):
        return _blocks(steps, stamps, values)
    shift = ROLLUP_SHIFTS[0]
    out: dict[int, _Block] = {}
    start, n = 0, len(steps)
    while start < n:
        bucket = steps[start] >> shift
        end = bisect_left(steps, (bucket + 1) << shift, start)
        chunk = values[start:end]
        lo, hi = min(chunk), max(chunk)
        i, j = start + chunk.index(lo), start + chunk.index(hi)
        out[bucket] = [steps[i], stamps[i], lo, steps[j], stamps[j], hi]
        start = end
    return out


def _coarser(blocks: dict[int, _Block], by: int) -> dict[int, _Block]:
    out: dict[int, _Block] = {}
    for bucket, block in blocks.items():
        parent = bucket >> by
        found = out.get(parent)
        if found is None:
            out[parent] = list(block)
            continue
        if block[2] < found[2]:
            found[0:3] = block[0:3]
        if block[5] > found[5]:
            found[3:6] = block[3:6]
    return out


_Latest = tuple[int, int, float]  # (step, timestamp, value) ordered as MLflow orders "latest"
_INSERT_SQLITE = "INSERT INTO metric_points (series_id, step, ts, value) VALUES (?, ?, ?, ?)"
_COPY_PG = "COPY metric_points (series_id, step, ts, value) FROM STDIN"
# Built once: SQLAlchemy's compiled cache then serves every batch, and a one-point
# log_metric does not pay ~50 us per statement to build it again.
_LOCK_RUN = select(s.runs.c.pk).where(s.runs.c.pk == bindparam("pk")).with_for_update()
_SERIES_OF = select(s.metric_series).where(
    s.metric_series.c.run_pk == bindparam("pk"), s.metric_series.c.key.in_(bindparam("keys", expanding=True))
)
_NEW_SERIES = insert(s.metric_series).values(last_value=None, last_step=0, last_ts=0, n_points=0)
_UPDATE_SERIES = (
    update(s.metric_series)
    .where(s.metric_series.c.id == bindparam("sid"))
    .values(
        last_step=bindparam("new_last_step"),
        last_ts=bindparam("new_last_ts"),
        last_value=bindparam("new_last_value"),
        min_value=bindparam("new_min_value"),
        max_value=bindparam("new_max_value"),
        n_points=bindparam("new_n_points"),
    )
)


def _rank(value: float) -> float:
    """NaN ranks below every number when two points share step and timestamp."""
    return -math.inf if math.isnan(value) else value


def _newer(candidate: _Latest, current: _Latest | None) -> bool:
    if current is None:
        return True
    return (candidate[0], candidate[1], _rank(candidate[2])) > (current[0], current[1], _rank(current[2]))


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

    def absorb(self, points: MetricSeries) -> list[float | None]:
        """Fold the points into the aggregates; return the values to store (NaN → NULL)."""
        values = points.values
        self.count += len(values)
        stored: list[float | None] = values  # type: ignore[assignment]
        finite_or_inf = values
        if any(map(math.isnan, values)):
            stored = [None if math.isnan(v) else v for v in values]
            finite_or_inf = [v for v in values if not math.isnan(v)]
        if finite_or_inf:
            lo, hi = min(finite_or_inf), max(finite_or_inf)
            self.min = lo if self.min is None else min(self.min, lo)
            self.max = hi if self.max is None else max(self.max, hi)
        # Index of the latest point: highest (step, timestamp); among exact ties inside one
        # batch the one logged last (ranking values here too would double the cost).
        _, _, best = max(zip(points.steps, points.timestamps, range(len(values)), strict=True))
        candidate = (points.steps[best], points.timestamps[best], values[best])
        if _newer(candidate, self.latest):
            self.latest = candidate
        return stored


class SqlMetricRepository(MetricRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def ingest(self, ref: RunRef, batch: MetricBatch, idempotency_key: str | None, now: int) -> bool:
        # One batch at a time per run: the aggregates below are read-modify-write, and a retry
        # racing its original must find the receipt rather than collide with it. SQLite
        # serialises writers already (a write transaction begins IMMEDIATE); on PostgreSQL
        # this takes the run's row lock.
        if self.conn.dialect.name != "sqlite":
            self.conn.execute(_LOCK_RUN, {"pk": ref.pk})
        if idempotency_key is not None:
            seen = self.conn.execute(
                select(s.ingest_receipts.c.run_pk).where(s.ingest_receipts.c.key == idempotency_key)
            ).first()
            if seen is not None and seen.run_pk != ref.pk:
                # Answering "duplicate" would silently drop this run's points.
                raise Conflict(
                    "this Idempotency-Key was already used for a batch of another run;"
                    " use a fresh key per batch (e.g. a UUID)"
                )
            if seen is not None:
                return False
            self.conn.execute(
                insert(s.ingest_receipts).values(
                    key=idempotency_key, run_pk=ref.pk, points=len(batch), created_at=now
                )
            )
        nonempty = [points for points in batch.series if points.values]
        if not nonempty:
            return True
        series = self._series(ref, {points.key for points in nonempty})
        rows: list[Iterable[tuple[int, int, int, float | None]]] = []
        updates: list[dict[str, Any]] = []
        rolled: list[tuple[int, MetricSeries]] = []  # series past ROLLUP_FROM: this batch's points
        rebuilt: list[int] = []  # series crossing ROLLUP_FROM now: every point, once
        for points in nonempty:
            item = series[points.key]
            before = item.count
            stored = item.absorb(points)
            if item.count > ROLLUP_FROM:
                if before > ROLLUP_FROM:
                    rolled.append((item.id, points))
                else:
                    rebuilt.append(item.id)
            rows.append(zip(repeat(item.id), points.steps, points.timestamps, stored))
            latest = item.latest
            assert latest is not None  # absorb() saw at least one point
            updates.append(
                {
                    "sid": item.id,
                    "new_last_step": latest[0],
                    "new_last_ts": latest[1],
                    "new_last_value": None if math.isnan(latest[2]) else latest[2],
                    "new_min_value": item.min,
                    "new_max_value": item.max,
                    "new_n_points": item.count,
                }
            )
        # One executemany for every key of the batch, one for the series aggregates: per-key
        # statements cost more than the rows themselves at 10 keys x 100 points.
        self._insert_points(chain.from_iterable(rows))
        self.conn.execute(_UPDATE_SERIES, updates)
        if rolled or rebuilt:
            self._roll_up(rolled, rebuilt)
        return True

    def _roll_up(self, rolled: list[tuple[int, MetricSeries]], rebuilt: list[int]) -> None:
        """Fold points into the rollups of their series (the run's lock is held: ingest)."""
        params: list[tuple[Any, ...]] = []
        p = s.metric_points.c
        work: list[tuple[int, dict[int, _Block]]] = [
            (sid, _batch_blocks(points.steps, points.timestamps, points.values)) for sid, points in rolled
        ]
        for sid in rebuilt:
            # In step order (the index's), so the blocks are slices: see _batch_blocks.
            found = self._fetch(
                select(p.step, p.ts, p.value).where(p.series_id == sid).order_by(p.step, p.id)
            )
            steps, stamps, values = (list(column) for column in zip(*found, strict=True))
            if None in values:
                values = [math.nan if v is None else v for v in values]
            work.append((sid, _batch_blocks(steps, stamps, values)))
        for sid, finest in work:
            level = finest
            for index, shift in enumerate(ROLLUP_SHIFTS):
                if index:
                    level = _coarser(level, shift - ROLLUP_SHIFTS[index - 1])
                params.extend((sid, shift, bucket, *b) for bucket, b in level.items())
        if params:
            self._upsert_rollups(params)

    def _upsert_rollups(self, rows: list[tuple[Any, ...]]) -> None:
        # SQLite's and PostgreSQL's drivers (the stores Shipyard runs on) take the same upsert.
        statement = _UPSERT_QMARK if self.conn.dialect.paramstyle == "qmark" else _UPSERT_FORMAT
        raw: Any = self.conn.connection.dbapi_connection
        cursor = raw.cursor()
        try:
            cursor.executemany(statement, rows)
        finally:
            cursor.close()

    def _series(self, ref: RunRef, keys: set[str]) -> dict[str, _Series]:
        found: dict[str, _Series] = {}
        for r in self.conn.execute(_SERIES_OF, {"pk": ref.pk, "keys": sorted(keys)}):
            value = math.nan if r.last_value is None else r.last_value
            latest = (r.last_step, r.last_ts, value) if r.n_points else None
            found[r.key] = _Series(r.id, latest, r.min_value, r.max_value, r.n_points)
        for key in sorted(keys - found.keys()):
            result = self.conn.execute(_NEW_SERIES, {"run_pk": ref.pk, "key": key})
            found[key] = _Series(new_id(result), None, None, None, 0)
        return found

    def _insert_points(self, rows: Iterable[tuple[int, int, int, float | None]]) -> None:
        raw: Any = self.conn.connection.dbapi_connection
        dialect = self.conn.dialect.name
        if dialect == "sqlite":
            cursor = raw.cursor()
            try:
                cursor.executemany(_INSERT_SQLITE, rows)
            finally:
                cursor.close()
        elif dialect == "postgresql":
            with raw.cursor() as cursor, cursor.copy(_COPY_PG) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
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
        points = [
            (step, pid, ts, math.nan if value is None else value)
            for step, pid, ts, value in self._fetch(query)
        ]
        return points, int(total)

    def _fetch(self, query: Select[Any]) -> list[Any]:
        """Rows of ``query`` through the driver: 100k rows through the ORM-free Core result
        path still cost ~4x what the raw cursor does."""
        compiled = query.compile(self.conn)
        raw: Any = self.conn.connection.dbapi_connection
        cursor = raw.cursor()
        try:
            if self.conn.dialect.paramstyle == "qmark":
                params: Any = [compiled.params[name] for name in compiled.positiontup or []]
            else:
                params = compiled.params
            cursor.execute(str(compiled), params)
            rows: list[Any] = cursor.fetchall()
            return rows
        finally:
            cursor.close()

    def chart(
        self, ref: RunRef, key: str, max_points: int
    ) -> tuple[list[tuple[int, int, float]], int] | None:
        series = self.conn.execute(
            select(s.metric_series.c.id, s.metric_series.c.n_points).where(
                s.metric_series.c.run_pk == ref.pk, s.metric_series.c.key == key
            )
        ).first()
        if series is None or series.n_points <= max(ROLLUP_FROM, max_points):
            return None  # every point fits the chart, or reading them all is as quick
        r = s.metric_rollups.c
        # The finest level with at most a few blocks per point asked for: bounded counts, so
        # a sparse series' million fine blocks are never all counted.
        cap = max(max_points, 2) * 4
        chosen = ROLLUP_SHIFTS[-1]
        for shift in ROLLUP_SHIFTS:
            inner = (
                select(r.bucket).where(r.series_id == series.id, r.shift == shift).limit(cap + 1).subquery()
            )
            count = self.conn.execute(select(func.count()).select_from(inner)).scalar_one()
            if count == 0:
                return None  # logged before rollups existed
            if count <= cap:
                chosen = shift
                break
        found = self.conn.execute(
            select(r.min_step, r.min_ts, r.min_value, r.max_step, r.max_ts, r.max_value)
            .where(r.series_id == series.id, r.shift == chosen)
            .order_by(r.bucket)
        ).all()
        points: list[tuple[int, int, float]] = []
        for lo_step, lo_ts, lo, hi_step, hi_ts, hi in found:
            if lo_step == hi_step:
                points.append((lo_step, lo_ts, lo))
            elif lo_step < hi_step:
                points.extend(((lo_step, lo_ts, lo), (hi_step, hi_ts, hi)))
            else:
                points.extend(((hi_step, hi_ts, hi), (lo_step, lo_ts, lo)))
        return points, int(series.n_points)
