"""Shipyard's half of the benchmark: the SDK against a real ``shipyard up`` server.

Every measured call goes through the SDK and the server's HTTP API. The 10,000 search runs
are written with SQL into the server's SQLite schema (as for MLflow), cloning the rows of a
template run logged through the SDK, so the rows are exactly the ones the server writes.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shipyard
from _dataset import (
    BASE_TS,
    METRIC_KEYS,
    N_KEYS,
    PARAM_KEYS,
    SEARCH_FILTER,
    SEARCH_ORDER,
    SEARCH_PAGE,
    expected_search,
    metric_value,
    search_runs,
)
from _measure import say, time_calls
from _servers import Processes, start_shipyard, wait_idle
from shipyard import Client
from shipyard.client._batcher import encode_batch

# ingest_receipts: idempotency keys of the batches the template received; clones replay none.
KNOWN_RUN_TABLES = {"runs", "params", "run_tags", "metric_series", "ingest_receipts"}
TEMPLATE_VALUE = 0.4375  # the template run's metric value; exact in binary, found by equality


@dataclass(frozen=True)
class Sizes:
    ingest_points: int  # ours; 10 keys
    anchor_ingest_points: int  # MLflow's log_batch, smaller: it is ~100x slower
    history_points: int
    runs: int
    repeat: int  # short measures: median of this many
    long_repeat: int  # long measures (ingestion, MLflow history and start-up)
    latency_calls: int


# -- population ------------------------------------------------------------------------


def _rows(db: sqlite3.Connection, sql: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
    cursor = db.execute(sql, args)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _insert(db: sqlite3.Connection, table: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    db.executemany(
        f'INSERT INTO "{table}" ({names}) VALUES ({marks})', [tuple(r[c] for c in columns) for r in rows]
    )


def _substitute(row: dict[str, Any], swap: dict[Any, Any]) -> dict[str, Any]:
    """Replace every column holding the template's value or timestamp (the last value, the
    min and the max of a one-point series…) without naming the columns."""
    return {column: swap.get(value, value) for column, value in row.items()}


def _tables_holding(db: sqlite3.Connection, run_pk: int) -> set[str]:
    """Every table with a row keyed by this run (to notice rows a clone would miss)."""
    found = set()
    for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
        columns = {row[1] for row in db.execute(f'PRAGMA table_info("{table}")')}
        if (
            "run_pk" in columns
            and db.execute(f'SELECT 1 FROM "{table}" WHERE run_pk = ? LIMIT 1', (run_pk,)).fetchone()
        ):
            found.add(table)
    return found


def populate_search(client: Client, db_path: Path, n: int) -> tuple[str, dict[str, Any]]:
    """``n`` runs in experiment ``search``, cloned from a template run logged via the SDK."""
    template_exp = client.create_experiment("template")
    template = client.create_run(template_exp.id, name="template", params=dict.fromkeys(PARAM_KEYS, "v0"))
    points = [(key, TEMPLATE_VALUE, 0, BASE_TS) for key in METRIC_KEYS]
    client.log_metric_batch(template.id, encode_batch(points), uuid.uuid4().hex)
    experiment = client.create_experiment("search")
    start = time.perf_counter()
    db = sqlite3.connect(db_path, timeout=60, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        run_row = _rows(db, "SELECT * FROM runs WHERE run_id = ?", (template.id,))[0]
        pk = run_row["pk"]
        extra = _tables_holding(db, pk) - KNOWN_RUN_TABLES
        param_row = _rows(db, "SELECT * FROM params WHERE run_pk = ? LIMIT 1", (pk,))[0]
        tag_rows = _rows(db, "SELECT * FROM run_tags WHERE run_pk = ?", (pk,))
        series_row = _rows(db, "SELECT * FROM metric_series WHERE run_pk = ? LIMIT 1", (pk,))[0]
        point_row = _rows(db, "SELECT * FROM metric_points WHERE series_id = ?", (series_row["id"],))[0]
        point_row.pop("id")
        next_pk = db.execute("SELECT max(pk) FROM runs").fetchone()[0] + 1
        next_series = db.execute("SELECT max(id) FROM metric_series").fetchone()[0] + 1
        runs: list[dict[str, Any]] = []
        params: list[dict[str, Any]] = []
        tags: list[dict[str, Any]] = []
        series: list[dict[str, Any]] = []
        metric_points: list[dict[str, Any]] = []
        first_id = ""
        for item in search_runs(n):
            run_id = uuid.uuid4().hex
            first_id = first_id or run_id
            runs.append(
                run_row
                | {
                    "pk": next_pk,
                    "run_id": run_id,
                    "experiment_id": int(experiment.id),
                    "name": item.name,
                    "start_time": item.start_time,
                    "artifact_uri": f"{experiment.artifact_location}/{run_id}/artifacts",
                }
            )
            params.extend(
                param_row | {"run_pk": next_pk, "key": k, "value": v} for k, v in item.params.items()
            )
            tags.extend(tag | {"run_pk": next_pk} for tag in tag_rows)
            for key, value in item.metrics.items():
                # One point at step 0, like the template's: only its value and time differ.
                swap = {TEMPLATE_VALUE: value, BASE_TS: item.start_time}
                row = series_row | {"id": next_series, "run_pk": next_pk, "key": key}
                series.append(_substitute(row, swap))
                metric_points.append(_substitute(point_row | {"series_id": next_series}, swap))
                next_series += 1
            next_pk += 1
        for table, rows in (
            ("runs", runs),
            ("params", params),
            ("run_tags", tags),
            ("metric_series", series),
            ("metric_points", metric_points),
        ):
            _insert(db, table, rows)
        db.execute("COMMIT")
    finally:
        db.close()
    seconds = time.perf_counter() - start
    info = {
        "seconds": seconds,
        "tables_not_cloned": sorted(extra),
        "clone_equals_api_run": _clone_equals_api_run(client, template_exp.id, first_id),
    }
    return experiment.id, info


def _clone_equals_api_run(client: Client, exp_id: str, clone_id: str) -> bool:
    """Log the first search run again through the API and compare what the server returns."""
    item = next(search_runs(1))
    logged = client.create_run(exp_id, name=item.name, params=item.params)
    points = [(key, value, 0, item.start_time) for key, value in item.metrics.items()]
    client.log_metric_batch(logged.id, encode_batch(points), uuid.uuid4().hex)
    a, b = client.get_run(logged.id), client.get_run(clone_id)
    same = (a.name, a.status, a.params, a.tags, a.metrics) == (b.name, b.status, b.params, b.tags, b.metrics)
    if not same:
        say(f"WARNING: a cloned run differs from one logged through the API:\n  {a}\n  {b}")
    return same


# -- measures ----------------------------------------------------------------------------


def measure_startup(procs: Processes, python: str, root: Path, work: Path, repeat: int) -> list[float]:
    """Fresh ``--home`` to ``/healthz`` 200, after one untimed start (a warm page cache)."""
    samples = []
    for i in range(repeat + 1):
        server = start_shipyard(procs, python, work / f"startup-{i}", work / "startup.log", root)
        procs.stop(server.proc)
        if i:
            samples.append(server.seconds_to_healthy)
    say(f"shipyard start-up: {', '.join(f'{s:.2f}' for s in samples)} s")
    return samples


def measure_latency(client: Client, run_id: str, calls: int) -> list[float]:
    """One point, sent synchronously: what ``log_metric`` costs once the batcher ships."""

    def one(i: int) -> None:
        payload = encode_batch([("latency", 0.5, i + 10, time.time_ns() // 1_000_000)])
        client.log_metric_batch(run_id, payload, uuid.uuid4().hex)

    return time_calls(one, calls, warmup=8)


def measure_ingest(points: int, repeat: int) -> tuple[dict[str, Any], str]:
    """``points`` (10 keys x points/10 steps) through ``ActiveRun.log_metrics`` + ``flush``."""
    steps = points // N_KEYS
    seconds = []
    run_id = ""
    for rep in range(repeat):
        with shipyard.start_run(experiment="ingest", name=f"ingest-{rep}") as run:
            start = time.perf_counter()
            for step in range(steps):
                run.log_metrics({key: metric_value(k, step) for k, key in enumerate(METRIC_KEYS)}, step=step)
            run.flush()
            seconds.append(time.perf_counter() - start)
        say(f"shipyard SDK: {steps * N_KEYS:,} points in {seconds[-1]:.1f} s")
        stored = run.client.get_run(run.id).metrics["m9"]
        assert stored.count == steps, f"expected {steps} points of m9, the server has {stored.count}"
        run_id = run_id or run.id
    return {"points": steps * N_KEYS, "seconds": seconds}, run_id


def measure_history(client: Client, run_id: str, n: int, repeat: int) -> list[float]:
    def one(_: int) -> None:
        got = client.get_metric_history(run_id, "m0")
        assert len(got.steps) == n, f"expected {n} points, got {len(got.steps)}"

    samples = time_calls(one, repeat, warmup=1)
    say(f"shipyard get_metric_history ({n:,} points): {', '.join(f'{s:.3f}' for s in samples)} s")
    return samples


def measure_search(client: Client, exp_id: str, n: int, repeat: int) -> dict[str, Any]:
    names: list[str] = []

    def one(_: int) -> None:
        found, _token = client.search_runs_page(
            [exp_id], filter=SEARCH_FILTER, order_by=SEARCH_ORDER, max_results=SEARCH_PAGE
        )
        names[:] = [r.name for r in found]

    samples = time_calls(one, repeat, warmup=4)
    say(f"shipyard search_runs: {', '.join(f'{s:.3f}' for s in samples)} s")
    return {"seconds": samples, "matches_expected": names == expected_search(n), "returned": len(names)}


def run_all(procs: Processes, python: str, root: Path, work: Path, sizes: Sizes) -> dict[str, Any]:
    out: dict[str, Any] = {"version": shipyard.__version__}
    out["startup"] = measure_startup(procs, python, root, work, sizes.repeat)
    home = work / "shipyard"
    server = start_shipyard(procs, python, home, work / "shipyard.log", root)
    wait_idle(server)
    # Signed in as the owner; also the default client of shipyard.start_run.
    client = shipyard.connect(server.url, token=server.token)
    try:
        say(f"shipyard {shipyard.__version__}: populating {sizes.runs:,} runs")
        search_exp, out["populate"] = populate_search(client, home / "shipyard.db", sizes.runs)
        latency_run = client.create_run(client.get_or_create_experiment("latency").id)
        out["log_metric"] = measure_latency(client, latency_run.id, sizes.latency_calls)
        out["ingest"], history_run = measure_ingest(sizes.ingest_points, sizes.long_repeat)
        # The history read is the first ingested run's m0: history_points == ingest steps.
        out["history"] = {
            "points": sizes.history_points,
            "seconds": measure_history(client, history_run, sizes.history_points, sizes.repeat),
        }
        out["search"] = measure_search(client, search_exp, sizes.runs, sizes.repeat)
    finally:
        client.close()
        procs.stop(server.proc)
    return out
