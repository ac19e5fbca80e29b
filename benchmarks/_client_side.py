"""The ``mlflow`` client's measures, run inside ``.venv-anchor`` against one server (Shipyard
or ``mlflow server``): the very same client code for both. Prints one JSON object on stdout
(progress on stderr).

With ``--populate-db`` (MLflow's server) the search runs and the history are written first,
with ``_mlflow_side``'s SQL clone of a template run; for Shipyard the caller has populated
them through Shipyard's own schema and passes their ids.

A measure whose endpoint the server does not serve yet (404, ``ENDPOINT_NOT_FOUND``) is
reported as ``{"unsupported": reason}`` and the others still run.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException
from mlflow.utils import rest_utils

from _dataset import (
    BASE_TS,
    METRIC_KEYS,
    SEARCH_FILTER,
    SEARCH_ORDER,
    SEARCH_PAGE,
    expected_search,
    metric_value,
)
from _measure import median, say
from _mlflow_side import populate_history, populate_search

BATCH_STEPS = 100  # 10 keys x 100 steps = 1,000 metrics per log_batch: MLflow's limit per request


_MISSING = re.compile(
    r"no such endpoint: (\S+ [^\s'\"]+)|ENDPOINT_NOT_FOUND|'detail': 'Not Found'|error code 404"
)


def _failure(exc: Exception) -> dict[str, str]:
    """``unsupported`` when the server has no such endpoint, ``error`` for anything else."""
    code = getattr(exc, "error_code", "") or type(exc).__name__
    text = " ".join(str(exc).split())[:300]
    # Only an MLflow-format error body carries its code; any other 404 body (FastAPI's
    # {"detail": ...}, Shipyard's native {"error": ...}) reaches us as INTERNAL_ERROR.
    missing = _MISSING.search(text)
    if code == "ENDPOINT_NOT_FOUND" or missing:
        return {"unsupported": f"no endpoint {missing.group(1)}" if missing and missing.group(1) else text}
    return {"error": text if text.startswith(code) else f"{code}: {text}"}


def attempt(name: str, measure: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return measure()
    except (MlflowException, AssertionError) as exc:
        out = _failure(exc)
        say(f"{name}: {next(iter(out.values()))}")
        return out


class _HttpClock:
    """Seconds the client spends inside ``rest_utils.http_request``: sending the request, the
    server's work, receiving the body. The rest of a call is the client's own work (building
    and serializing protobufs, parsing the answer), identical for both servers."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._real = rest_utils.http_request
        rest_utils.http_request = self._timed  # call_endpoint looks the name up at each call

    def _timed(self, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return self._real(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start


_HTTP = _HttpClock()


def sample(name: str, fn: Callable[[int], Any], repeat: int, warmup: int) -> dict[str, Any]:
    """``fn(i)`` ``warmup`` times untimed, then ``repeat`` times: seconds per call, and of
    them the seconds inside ``http_request``."""
    for i in range(warmup):
        fn(-1 - i)
    seconds, http = [], []
    for i in range(repeat):
        _HTTP.seconds = 0.0
        start = time.perf_counter()
        fn(i)
        seconds.append(time.perf_counter() - start)
        http.append(_HTTP.seconds)
    say(f"{name}: median {median(seconds) * 1000:.1f} ms, {median(http) * 1000:.1f} ms of it in HTTP")
    return {"seconds": seconds, "http_seconds": http}


def measure_log_metric(client: MlflowClient, exp_id: str, calls: int) -> dict[str, Any]:
    run_id = client.create_run(exp_id, run_name="log-metric").info.run_id

    def one(i: int) -> None:
        client.log_metric(run_id, "latency", 0.5, step=i + 10)

    # Warm-up: MLflow's server has 4 workers, each pays its first-request costs once.
    return sample("log_metric", one, calls, warmup=8)


def _batch(first_step: int) -> list[Metric]:
    return [
        Metric(key, metric_value(k, step), BASE_TS + step, step)
        for step in range(first_step, first_step + BATCH_STEPS)
        for k, key in enumerate(METRIC_KEYS)
    ]


def measure_log_batch(client: MlflowClient, exp_id: str, calls: int) -> dict[str, Any]:
    """``calls`` log_batch calls of 1,000 metrics each (new steps every call) into one run."""
    run_id = client.create_run(exp_id, run_name="log-batch").info.run_id
    warmup = 4
    batches = [_batch(i * BATCH_STEPS) for i in range(warmup + calls)]  # built before timing

    def one(i: int) -> None:
        client.log_batch(run_id, metrics=batches[i + warmup if i >= 0 else -1 - i])

    samples = sample("log_batch (1,000 metrics)", one, calls, warmup=warmup)
    steps = (warmup + calls) * BATCH_STEPS
    latest = client.get_run(run_id).data.metrics
    assert latest["m9"] == metric_value(9, steps - 1), f"log_batch: m9 = {latest['m9']}, points were lost"
    return samples | {"metrics_per_call": len(batches[0])}


def measure_search(client: MlflowClient, exp_id: str, n: int, repeat: int) -> dict[str, Any]:
    names: list[str] = []

    def one(_: int) -> None:
        found = client.search_runs(
            [exp_id], filter_string=SEARCH_FILTER, order_by=SEARCH_ORDER, max_results=SEARCH_PAGE
        )
        names[:] = [r.info.run_name for r in found]

    samples = sample("search_runs", one, repeat, warmup=4)
    expected = expected_search(n)
    if names != expected:
        say(f"search_runs: the page differs from the expected one ({len(names)} runs, {names[:3]}…)")
    return samples | {"matches_expected": names == expected, "returned": len(names)}


def _history_is_complete(history: list[Metric], n: int) -> bool:
    steps = sorted(m.step for m in history)
    total = math.fsum(m.value for m in history)
    return steps == list(range(n)) and math.isclose(total, math.fsum(metric_value(0, s) for s in range(n)))


def measure_history(client: MlflowClient, run_id: str, n: int, repeat: int) -> dict[str, Any]:
    got: list[Metric] = []

    def one(_: int) -> None:
        got[:] = client.get_metric_history(run_id, "m0")
        assert len(got) == n, f"get_metric_history: expected {n} points, got {len(got)}"

    samples = sample(f"get_metric_history ({n:,} points)", one, repeat, warmup=1)
    complete = _history_is_complete(got, n)

    return samples | {"points": n, "complete": complete}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--runs", type=int, required=True)
    parser.add_argument("--history-points", type=int, required=True)
    parser.add_argument("--populate-db", type=Path, help="MLflow: populate this SQLite database first")
    parser.add_argument("--search-experiment", help="Shipyard: the populated search experiment")
    parser.add_argument("--history-run", help="Shipyard: the run holding the history")
    parser.add_argument("--repeat", type=int, required=True, help="samples of search_runs")
    parser.add_argument("--history-repeat", type=int, required=True)
    parser.add_argument("--calls", type=int, required=True, help="samples of log_metric and log_batch")
    args = parser.parse_args()

    client = MlflowClient(tracking_uri=args.url)
    out: dict[str, Any] = {"client": f"mlflow {mlflow.__version__}"}
    search_exp, history_run = args.search_experiment, args.history_run
    if args.populate_db:
        say(f"populating {args.runs:,} runs and a {args.history_points:,}-point history (SQL clones)")
        search_exp, out["populate"] = populate_search(client, args.populate_db, args.runs)
        start = time.perf_counter()
        history_run = populate_history(client, args.populate_db, args.history_points)
        out["populate"]["history_seconds"] = time.perf_counter() - start

    def experiment() -> str:
        return client.create_experiment(f"client-{time.time_ns()}")

    out["log_metric"] = attempt("log_metric", lambda: measure_log_metric(client, experiment(), args.calls))
    out["log_batch"] = attempt("log_batch", lambda: measure_log_batch(client, experiment(), args.calls))
    out["search"] = attempt("search_runs", lambda: measure_search(client, search_exp, args.runs, args.repeat))
    out["history"] = attempt(
        "get_metric_history",
        lambda: measure_history(client, history_run, args.history_points, args.history_repeat),
    )
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
