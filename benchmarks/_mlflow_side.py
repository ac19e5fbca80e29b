"""The anchor's half of the benchmark: runs inside ``.venv-anchor`` against a running
``mlflow server`` and prints its results as one JSON object on stdout (progress on stderr).

Every measured call goes through MLflow's own client (``MlflowClient``) and the server's
REST API. The search and history data are written with SQL straight into the server's
SQLite schema after the server created it, cloning the rows of a template run that was
logged through the client, so the rows are exactly the ones MLflow would have written.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param

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

BATCH = 1000  # metrics per log_batch call: MLflow's own limit per request
KNOWN_RUN_TABLES = {"runs", "tags", "params", "metrics", "latest_metrics"}


def _insert(db: sqlite3.Connection, table: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    db.executemany(
        f'INSERT INTO "{table}" ({names}) VALUES ({marks})', [tuple(r[c] for c in columns) for r in rows]
    )


def _rows(db: sqlite3.Connection, table: str, run_id: str) -> list[dict[str, Any]]:
    cursor = db.execute(f'SELECT * FROM "{table}" WHERE run_uuid = ?', (run_id,))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _tables_holding(db: sqlite3.Connection, run_id: str) -> set[str]:
    """Every table with a row of this run (to notice rows a clone would miss)."""
    found = set()
    for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
        columns = {row[1] for row in db.execute(f'PRAGMA table_info("{table}")')}
        for column in ("run_uuid", "run_id"):
            if (
                column in columns
                and db.execute(f'SELECT 1 FROM "{table}" WHERE "{column}" = ? LIMIT 1', (run_id,)).fetchone()
            ):
                found.add(table)
    return found


def populate_search(client: MlflowClient, db_path: Path, n: int) -> tuple[str, dict[str, Any]]:
    """``n`` runs in experiment ``search``, cloned from a template run logged via the client."""
    template_exp = client.create_experiment("template")
    template = client.create_run(template_exp, run_name="template")
    client.log_batch(
        template.info.run_id,
        metrics=[Metric(k, 0.5, BASE_TS, 0) for k in METRIC_KEYS],
        params=[Param(k, "v0") for k in PARAM_KEYS],
    )
    exp_id = client.create_experiment("search")
    location = client.get_experiment(exp_id).artifact_location
    start = time.perf_counter()
    db = sqlite3.connect(db_path, timeout=60)
    try:
        extra = _tables_holding(db, template.info.run_id) - KNOWN_RUN_TABLES
        run_row = _rows(db, "runs", template.info.run_id)[0]
        tag_rows = _rows(db, "tags", template.info.run_id)
        runs: list[dict[str, Any]] = []
        tags: list[dict[str, Any]] = []
        params: list[dict[str, Any]] = []
        metrics: list[dict[str, Any]] = []
        latest: list[dict[str, Any]] = []
        first_id = ""
        for item in search_runs(n):
            run_id = uuid.uuid4().hex
            first_id = first_id or run_id
            runs.append(
                run_row
                | {
                    "run_uuid": run_id,
                    "name": item.name,
                    "experiment_id": int(exp_id),
                    "start_time": item.start_time,
                    "artifact_uri": f"{location}/{run_id}/artifacts",
                }
            )
            for tag in tag_rows:
                value = item.name if tag["key"] == "mlflow.runName" else tag["value"]
                tags.append(tag | {"run_uuid": run_id, "value": value})
            params.extend({"key": k, "value": v, "run_uuid": run_id} for k, v in item.params.items())
            for key, value in item.metrics.items():
                point = {"key": key, "value": value, "timestamp": item.start_time, "step": 0, "is_nan": 0}
                metrics.append(point | {"run_uuid": run_id})
                latest.append(point | {"run_uuid": run_id})
        for table, rows in (
            ("runs", runs),
            ("tags", tags),
            ("params", params),
            ("metrics", metrics),
            ("latest_metrics", latest),
        ):
            _insert(db, table, rows)
        db.commit()
    finally:
        db.close()
    seconds = time.perf_counter() - start
    info = {
        "seconds": seconds,
        "tables_not_cloned": sorted(extra),
        "clone_equals_api_run": _clone_equals_api_run(client, template_exp, first_id),
    }
    return exp_id, info


def _clone_equals_api_run(client: MlflowClient, exp_id: str, clone_id: str) -> bool:
    """Log the first search run again through the API and compare what the server returns."""
    item = next(search_runs(1))
    logged = client.create_run(exp_id, run_name=item.name, start_time=item.start_time).info.run_id
    client.log_batch(
        logged,
        metrics=[Metric(k, v, item.start_time, 0) for k, v in item.metrics.items()],
        params=[Param(k, v) for k, v in item.params.items()],
    )
    a, b = client.get_run(logged), client.get_run(clone_id)
    same = (a.info.run_name, a.info.status, a.info.start_time, a.data.to_dictionary()) == (
        b.info.run_name,
        b.info.status,
        b.info.start_time,
        b.data.to_dictionary(),
    )
    if not same:
        say(f"WARNING: a cloned run differs from one logged through the API:\n  {a}\n  {b}")
    return same


def populate_history(client: MlflowClient, db_path: Path, n: int) -> str:
    """One run whose metric ``m0`` holds ``n`` points; the first logged via the client."""
    run = client.create_run(client.create_experiment("history"), run_name="history")
    run_id: str = run.info.run_id
    client.log_metric(run_id, "m0", metric_value(0, 0), timestamp=BASE_TS, step=0)
    db = sqlite3.connect(db_path, timeout=60)
    try:
        rows = [
            {
                "key": "m0",
                "value": metric_value(0, step),
                "timestamp": BASE_TS + step,
                "run_uuid": run_id,
                "step": step,
                "is_nan": 0,
            }
            for step in range(1, n)
        ]
        _insert(db, "metrics", rows)
        db.execute(
            "UPDATE latest_metrics SET value = ?, timestamp = ?, step = ? WHERE run_uuid = ? AND key = 'm0'",
            (metric_value(0, n - 1), BASE_TS + n - 1, n - 1, run_id),
        )
        db.commit()
    finally:
        db.close()
    return run_id


def measure_latency(client: MlflowClient, calls: int) -> list[float]:
    run_id = client.create_run(client.create_experiment("latency")).info.run_id

    def one(i: int) -> None:
        client.log_metric(run_id, "latency", 0.5, step=i + 10)

    # Warm-up: the server has 4 workers, each pays its first-request costs once.
    return time_calls(one, calls, warmup=8)


def _batches(steps: int) -> list[list[Metric]]:
    """10 keys x ``steps`` steps, 1,000 metrics (100 steps) per batch, built before timing."""
    batches: list[list[Metric]] = []
    current: list[Metric] = []
    for step in range(steps):
        for k, key in enumerate(METRIC_KEYS):
            current.append(Metric(key, metric_value(k, step), BASE_TS + step, step))
        if len(current) >= BATCH:
            batches.append(current)
            current = []
    if current:
        batches.append(current)
    return batches


def measure_ingest(client: MlflowClient, points: int) -> dict[str, Any]:
    """``points`` metric points through ``log_batch``: one long run of ``points / 1,000`` calls."""
    steps = points // N_KEYS
    exp_id = client.create_experiment("ingest")
    warm = client.create_run(exp_id, run_name="warm-up").info.run_id
    for batch in _batches(400)[:4]:  # one call per server worker, untimed
        client.log_batch(warm, metrics=batch)
    run_id = client.create_run(exp_id, run_name="ingest").info.run_id
    batches = _batches(steps)
    per_call = []
    start = time.perf_counter()
    for batch in batches:
        began = time.perf_counter()
        client.log_batch(run_id, metrics=batch)
        per_call.append(time.perf_counter() - began)
    seconds = time.perf_counter() - start
    say(f"mlflow log_batch: {steps * N_KEYS:,} points in {len(batches)} calls, {seconds:.1f} s")
    latest = client.get_run(run_id).data.metrics
    assert latest["m9"] == metric_value(9, steps - 1), "MLflow lost points"
    return {"points": steps * N_KEYS, "calls": len(batches), "seconds": [seconds], "per_call": per_call}


def measure_history(client: MlflowClient, run_id: str, n: int, repeat: int) -> list[float]:
    def one(_: int) -> None:
        got = client.get_metric_history(run_id, "m0")
        assert len(got) == n, f"expected {n} points, got {len(got)}"

    samples = time_calls(one, repeat)
    say(f"mlflow get_metric_history ({n:,} points): {', '.join(f'{s:.2f}' for s in samples)} s")
    return samples


def measure_search(client: MlflowClient, exp_id: str, n: int, repeat: int) -> dict[str, Any]:
    names: list[str] = []

    def one(_: int) -> None:
        found = client.search_runs(
            [exp_id], filter_string=SEARCH_FILTER, order_by=SEARCH_ORDER, max_results=SEARCH_PAGE
        )
        names[:] = [r.info.run_name for r in found]

    samples = time_calls(one, repeat, warmup=4)
    say(f"mlflow search_runs: {', '.join(f'{s:.3f}' for s in samples)} s")
    return {"seconds": samples, "matches_expected": names == expected_search(n), "returned": len(names)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--ingest-points", type=int, required=True)
    parser.add_argument("--history-points", type=int, required=True)
    parser.add_argument("--runs", type=int, required=True)
    parser.add_argument("--repeat", type=int, required=True)
    parser.add_argument("--long-repeat", type=int, required=True)
    parser.add_argument("--latency-calls", type=int, required=True)
    args = parser.parse_args()

    client = MlflowClient(tracking_uri=args.url)
    say(
        f"mlflow {mlflow.__version__}: populating {args.runs:,} runs, a {args.history_points:,}-point history"
    )
    search_exp, populate = populate_search(client, args.db, args.runs)
    start = time.perf_counter()
    history_run = populate_history(client, args.db, args.history_points)
    populate["history_seconds"] = time.perf_counter() - start
    out: dict[str, Any] = {"version": mlflow.__version__, "populate": populate}
    out["log_metric"] = measure_latency(client, args.latency_calls)
    out["ingest"] = measure_ingest(client, args.ingest_points)
    out["history"] = {
        "points": args.history_points,
        "seconds": measure_history(client, history_run, args.history_points, args.long_repeat),
    }
    out["search"] = measure_search(client, search_exp, args.runs, args.repeat)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
