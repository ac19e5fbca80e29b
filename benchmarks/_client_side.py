"""The ``mlflow`` client's measures, run inside ``.venv-anchor`` against one server (Shipyard
or ``mlflow server``): the very same client code for both. Prints one JSON object on stdout
(progress on stderr).

With ``--populate-db`` (MLflow's server) the search runs and the history are written first,
with ``_mlflow_side``'s SQL clone of a template run; for Shipyard the caller has populated
them through Shipyard's own schema and passes their ids.

A measure whose endpoint the server does not serve yet (404, ``ENDPOINT_NOT_FOUND``) is
reported as ``{"unsupported": reason}`` and the others still run.

The small calls (one ``log_metric``, ``get_run``, ``search_runs``) are measured in turns with
the server's health check, each both through the client and as raw HTTP on one keep-alive
``http.client`` connection, and beside a bare ASGI app (``--bare-url``) that answers at once:
what any server costs this client at the least. In turns, a change of the machine's load
moves every measure of a round alike, so the ratios between them hold.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import re
import sys
import time
import urllib.parse
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
SMALL_CALLS = [
    "health", "log_metric", "get_run", "search", "bare",
    "raw_health", "raw_log_metric", "raw_get_run", "raw_search", "raw_bare",
]  # fmt: skip
SMALL_WARMUP = 8  # untimed rounds: MLflow's server has 4 workers, each pays its first-request costs once


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


class _Raw:
    """One keep-alive HTTP/1.1 connection, JSON in and out, the client's token if it has one."""

    def __init__(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=60)
        token = os.environ.get("MLFLOW_TRACKING_TOKEN")
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> bytes:
        self.conn.request(method, path, None if body is None else json.dumps(body), self.headers)
        response = self.conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise AssertionError(f"raw {method} {path}: HTTP {response.status} {data[:200]!r}")
        return data


def measure_small_calls(
    client: MlflowClient, args: argparse.Namespace, search_exp: str, exp_id: str
) -> dict[str, Any]:
    """Rounds of: the health check, one log_metric, get_run and search_runs, through the client
    and raw, and the bare app's answer through both; per measure the seconds of each round."""
    run_id = client.create_run(exp_id, run_name="log-metric").info.run_id
    creds = client._tracking_client.store.get_host_creds()  # the client's own session and headers
    bare_creds = type(creds)(args.bare_url)
    raw, bare = _Raw(args.url), _Raw(args.bare_url)
    page: list[Any] = []
    search_body = {
        "experiment_ids": [search_exp],
        "filter": SEARCH_FILTER,
        "order_by": SEARCH_ORDER,
        "max_results": SEARCH_PAGE,
    }

    def client_search() -> None:
        page[:] = client.search_runs(
            [search_exp], filter_string=SEARCH_FILTER, order_by=SEARCH_ORDER, max_results=SEARCH_PAGE
        )

    client_search()
    got = page[0].info.run_id  # a run with 10 params and 10 metrics, as a training run has
    step = iter(range(10, 10**9))

    def raw_log_metric() -> None:
        point = {"run_id": run_id, "key": "raw", "value": 0.5, "timestamp": BASE_TS, "step": next(step)}
        raw.call("POST", "/api/2.0/mlflow/runs/log-metric", point)

    ops: dict[str, Callable[[], Any]] = {
        "health": lambda: rest_utils.http_request(creds, args.health_path, "GET"),
        "log_metric": lambda: client.log_metric(run_id, "latency", 0.5, step=next(step)),
        "get_run": lambda: client.get_run(got),
        "search": client_search,
        "bare": lambda: rest_utils.http_request(bare_creds, "/", "GET"),
        "raw_health": lambda: raw.call("GET", args.health_path),
        "raw_log_metric": raw_log_metric,
        "raw_get_run": lambda: raw.call("GET", f"/api/2.0/mlflow/runs/get?run_id={got}"),
        "raw_search": lambda: raw.call("POST", "/api/2.0/mlflow/runs/search", search_body),
        "raw_bare": lambda: bare.call("GET", "/"),
    }
    out: dict[str, dict[str, list[float]]] = {name: {"seconds": [], "http_seconds": []} for name in ops}
    for round_ in range(SMALL_WARMUP + args.rounds):
        for name, op in ops.items():
            _HTTP.seconds = 0.0
            start = time.perf_counter()
            op()
            if round_ >= SMALL_WARMUP:
                out[name]["seconds"].append(time.perf_counter() - start)
                out[name]["http_seconds"].append(_HTTP.seconds)
    for name, result in out.items():
        say(f"{name}: median {median(result['seconds']) * 1000:.2f} ms")
    names = [r.info.run_name for r in page]
    expected = expected_search(args.runs)
    if names != expected:
        say(f"search_runs: the page differs from the expected one ({len(names)} runs, {names[:3]}…)")
    out["search"] |= {"matches_expected": names == expected, "returned": len(names)}  # type: ignore[dict-item]
    return out


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
    parser.add_argument("--history-repeat", type=int, required=True)
    parser.add_argument("--calls", type=int, required=True, help="samples of log_batch")
    parser.add_argument("--rounds", type=int, required=True, help="rounds of the small calls")
    parser.add_argument("--health-path", required=True, help="the server's health check: /healthz, /health")
    parser.add_argument("--bare-url", required=True, help="a bare ASGI app answering at once")
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

    small = attempt("small calls", lambda: measure_small_calls(client, args, search_exp, experiment()))
    out |= small if "health" in small else dict.fromkeys(SMALL_CALLS, small)
    out["log_batch"] = attempt("log_batch", lambda: measure_log_batch(client, experiment(), args.calls))
    out["history"] = attempt(
        "get_metric_history",
        lambda: measure_history(client, history_run, args.history_points, args.history_repeat),
    )
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
