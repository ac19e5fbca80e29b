"""The studio's figures (issue 15) beside MLflow's own UI, measured in the same run.

    .venv/bin/python benchmarks/studio.py                   # 10,000 runs, 1,000,000 points, 5 loads each
    .venv/bin/python benchmarks/studio.py --quick           # 1,000 runs, 100,000 points, 3 loads
    .venv/bin/python benchmarks/studio.py --no-anchor       # Shipyard only (no MLflow venv is built)

Both servers get the same data through the same client: ``MlflowClient`` (create_run +
log_batch from 8 threads) logs one experiment of N runs (3 params, 3 metrics each), and one
run with a metric of 1,000,000 steps (log_batch of 1,000 points, the most MLflow's API
takes). Shipyard runs as ``shipyard up`` (sign-in on, SQLite); the anchor is ``mlflow server``
(SQLite backend, its UI built in) from its own venv under ``.bench/anchors/mlflow-ui``,
installed once from the package registry.

Figures, each a median of ``--loads`` page loads in a new browser context (no cache, no
warm JS; the session cookie is set before the clock starts):
- runs table: from navigation start until the newest run's link is in the table —
  ``/studio/experiments/ID`` against MLflow's ``/#/experiments/ID`` (both link a run by its id,
  so one selector fits both; the newest run is what both show first);
- big metric: the run page interactive — ``load`` fired and the chart drawn (charts.js sets
  ``data-ready`` on a drawn chart; a uPlot ``<canvas>`` in ``main`` is taken as drawn too);
  MLflow's run page is opened the same way and waits for its chart (best effort: its markup
  is not ours, a miss is reported, not hidden);
- filter: submitting the studio's filter form until htmx swapped the table (timed in the page
  with performance.now()), the API's own ``runs/search`` for the same filter, and MLflow's
  ``runs/search`` for it.

Headless Debian Chromium (``/usr/bin/chromium``), never a downloaded browser.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from _anchor_mlflow import anchor_mlflow
from _servers import Processes, Server, start_mlflow, start_shipyard, wait_idle

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / ".bench"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
FILTER = "metrics.acc > 0.9 and params.optimizer = 'adam'"
THREADS = 8
BATCH = 1000  # MLflow's log_batch limit for metrics


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- logging the same data into both --------------------------------------------------------


@dataclass
class Logged:
    experiment_id: str
    newest_run: str  # what both UIs list first (start_time DESC)
    big_run: str
    seconds: dict[str, float] = field(default_factory=dict)


def _client(server: Server) -> Any:
    # The token travels in MLFLOW_TRACKING_TOKEN, read at each request: set for Shipyard only.
    if server.token:
        os.environ["MLFLOW_TRACKING_TOKEN"] = server.token
    else:
        os.environ.pop("MLFLOW_TRACKING_TOKEN", None)
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=server.url)


def log_data(server: Server, runs: int, points: int) -> Logged:
    from mlflow.entities import Metric, Param

    client = _client(server)
    experiment_id = client.create_experiment("studio-bench")
    rng = random.Random(15)  # the same values on both sides
    rows = [
        (
            f"run-{i:05d}",
            [Param("lr", str(rng.choice([0.1, 0.01, 0.001]))), Param("depth", str(rng.randint(2, 12))),
             Param("optimizer", rng.choice(["adam", "sgd", "rmsprop"]))],
            [Metric(key, rng.random(), 0, 0) for key in ("acc", "loss", "f1")],
        )
        for i in range(runs)
    ]  # fmt: skip

    def one(row: tuple[str, list[Any], list[Any]]) -> None:
        name, params, metrics = row
        run = client.create_run(experiment_id, run_name=name)
        client.log_batch(run.info.run_id, metrics=metrics, params=params)

    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(one, rows))
    seconds = {"runs": time.perf_counter() - started}

    big = client.create_run(experiment_id, run_name="big-metric").info.run_id
    batches = [
        [Metric("curve", 1.0 / (1 + s / 1000) + 0.01 * ((s * 7919) % 13), 1_700_000_000_000 + s, s)
         for s in range(start, min(points, start + BATCH))]
        for start in range(0, points, BATCH)
    ]  # fmt: skip
    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(lambda metrics: client.log_batch(big, metrics=metrics), batches))
    seconds["points"] = time.perf_counter() - started
    client.set_terminated(big)
    newest = client.search_runs([experiment_id], order_by=["attributes.start_time DESC"], max_results=1)[0]
    return Logged(experiment_id, newest.info.run_id, big, seconds)


# -- the browser ----------------------------------------------------------------------------


def _signed_in(browser: Browser, server: Server) -> BrowserContext:
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(60_000)
    if server.token:  # the studio's own sign-in call, made from the context: it keeps the cookie
        answer = context.request.post("/api/v1/session", data={"token": server.token})
        assert answer.ok, answer.text()
    return context


def _until(page: Page, predicate: str) -> float:
    """ms from navigation start until ``predicate`` (a JS expression) holds, checked every frame."""
    handle = page.wait_for_function(f"() => ({predicate}) ? performance.now() : false", polling="raf")
    return float(handle.json_value())


def timed_loads(browser: Browser, server: Server, path: str, predicate: str, loads: int) -> list[float]:
    found: list[float] = []
    for _ in range(loads):
        context = _signed_in(browser, server)
        try:
            page = context.new_page()
            page.goto(path, wait_until="commit")
            found.append(_until(page, predicate))
        finally:
            context.close()
    return found


def run_link(run_id: str) -> str:
    return f"document.querySelector('a[href*=\"/runs/{run_id}\"]')"


CHART_DRAWN = (
    "document.readyState === 'complete' && "
    "(document.querySelector('main [data-ready]') || document.querySelector('main canvas'))"
)
# MLflow's run page draws its metric charts on a canvas (or plotly's SVG): either is taken.
MLFLOW_CHART = "document.readyState === 'complete' && document.querySelector('canvas, svg.main-svg')"

FILTER_JS = """async (filter) => {
  const form = document.querySelector('form.filters');
  document.getElementById('filter').value = filter;
  const swapped = new Promise((resolve) => {
    document.addEventListener('htmx:afterSwap', () => resolve(performance.now()), { once: true });
  });
  const t0 = performance.now();
  form.requestSubmit();
  const t1 = await swapped;
  return [t1 - t0, document.querySelectorAll('table.runs tbody tr:not(:has(td.empty))').length];
}"""


def timed_filter(browser: Browser, server: Server, logged: Logged, loads: int) -> list[float]:
    found: list[float] = []
    for _ in range(loads):
        context = _signed_in(browser, server)
        try:
            page = context.new_page()
            page.goto(f"/studio/experiments/{logged.experiment_id}")
            ms, rows = page.evaluate(FILTER_JS, FILTER)
            if not rows:
                raise RuntimeError("the filtered table shows no rows")
            found.append(float(ms))
        finally:
            context.close()
    return found


def api_search(server: Server, path: str, body: dict[str, Any], loads: int) -> tuple[list[float], int]:
    headers = {"Authorization": f"Bearer {server.token}"} if server.token else {}
    found: list[float] = []
    count = 0
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as http:
        for _ in range(loads + 1):  # the first warms the connection (and nothing else is cached)
            started = time.perf_counter()
            answer = http.post(path, json=body)
            found.append((time.perf_counter() - started) * 1000)
            answer.raise_for_status()
            count = len(answer.json().get("runs", []))
    return found[1:], count


# -- the report -----------------------------------------------------------------------------


def _median(values: list[float] | None) -> float | None:
    return statistics.median(values) if values else None


def _fmt(ms: float | None) -> str:
    return "n/a" if ms is None else (f"{ms:,.0f} ms" if ms >= 10 else f"{ms:.1f} ms")


def report(results: dict[str, Any]) -> None:
    r = results
    rows: list[tuple[str, float | None, float | None, str, Callable[[float, float | None], bool]]] = [
        (f"runs table shows rows ({r['runs']:,} runs)", r["table_ours"], r["table_mlflow"], ">= 3x faster",
         lambda ours, other: other is not None and other / ours >= 3),
        (f"run page, {r['points']:,}-point metric, interactive", r["chart_ours"], r["chart_mlflow"], "< 1 s",
         lambda ours, other: ours < 1000),
        (f"filter over {r['runs']:,} runs: form -> table swapped", r["filter_ours"], None, "< 300 ms",
         lambda ours, other: ours < 300),
        ("filter: the API's runs/search", r["search_ours"], r["search_mlflow"], "< 300 ms",
         lambda ours, other: ours < 300),
    ]  # fmt: skip
    print(
        f"\nStudio benchmark: {r['runs']:,} runs, {r['points']:,} points, median of {r['loads']} loads each"
    )
    print(f"{'figure':<52} {'Shipyard':>10} {'MLflow':>10} {'ratio':>7}  {'goal':<13} met?")
    for label, ours, other, goal, met in rows:
        ratio = f"{other / ours:.1f}x" if ours and other else "-"
        verdict = "n/a" if ours is None else ("yes" if met(ours, other) else "NO")
        print(f"{label:<52} {_fmt(ours):>10} {_fmt(other):>10} {ratio:>7}  {goal:<13} {verdict}")
    for note in r["notes"]:
        print(f"- {note}")


MLFLOW_RUNS = "/#/experiments/{}/runs?workflowType=machine_learning"  # 3.17 opens on GenAI otherwise
MLFLOW_RUN_METRICS = "/#/experiments/{}/runs/{}/model-metrics"


def _attempt(notes: list[str], what: str, measure: Callable[[], float | None]) -> float | None:
    """A figure, or a note saying why it is missing (a page that never drew is reported)."""
    try:
        return measure()
    except Exception as error:  # reported, never hidden
        notes.append(f"{what} not measured ({type(error).__name__}: {str(error)[:160]})")
        return None


def measure_pages(
    results: dict[str, Any], ours: Server, mine: Logged, anchor: Server | None, theirs: Logged | None
) -> None:
    loads, notes = results["loads"], results["notes"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            say("runs table")
            path = f"/studio/experiments/{mine.experiment_id}"
            results["table_ours"] = _median(
                timed_loads(browser, ours, path, run_link(mine.newest_run), loads)
            )
            if anchor and theirs:
                path = MLFLOW_RUNS.format(theirs.experiment_id)
                found = timed_loads(browser, anchor, path, run_link(theirs.newest_run), loads)
                results["table_mlflow"] = _median(found)
            say("big metric")
            path = f"/studio/experiments/{mine.experiment_id}/runs/{mine.big_run}"
            results["chart_ours"] = _attempt(
                notes, "studio run page chart",
                lambda: _median(timed_loads(browser, ours, path, CHART_DRAWN, loads)),
            )  # fmt: skip
            if anchor and theirs:
                other = MLFLOW_RUN_METRICS.format(theirs.experiment_id, theirs.big_run)
                results["chart_mlflow"] = _attempt(
                    notes, "MLflow's run page chart",
                    lambda: _median(timed_loads(browser, anchor, other, MLFLOW_CHART, loads)),
                )  # fmt: skip
                notes.append(
                    "MLflow's run page: its 'Model metrics' tab until a plotly SVG or canvas is in it"
                )
            say("filter")
            swap = _attempt(notes, "studio filter", lambda: _median(timed_filter(browser, ours, mine, loads)))
            results["filter_ours"] = swap
        finally:
            browser.close()


def measure_search(
    results: dict[str, Any], ours: Server, mine: Logged, anchor: Server | None, theirs: Logged | None
) -> None:
    page_size = 100  # what the studio's table asks for, and MLflow's UI
    loads = results["loads"]
    body = {"experiment_ids": [mine.experiment_id], "filter": FILTER, "max_results": page_size}
    search, count = api_search(ours, "/api/v1/runs/search", body, loads)
    results["search_ours"] = _median(search)
    results["notes"].append(
        f"filter `{FILTER}`: Shipyard's runs/search gave {count} runs (a page of {page_size})"
    )
    if anchor and theirs:
        body = {"experiment_ids": [theirs.experiment_id], "filter": FILTER, "max_results": page_size}
        search, count = api_search(anchor, "/api/2.0/mlflow/runs/search", body, loads)
        results["search_mlflow"] = _median(search)
        results["notes"].append(f"MLflow's runs/search gave {count}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--loads", type=int, default=5, help="page loads per figure (the median is shown)")
    parser.add_argument("--quick", action="store_true", help="1,000 runs, 100,000 points, 3 loads")
    parser.add_argument("--no-anchor", action="store_true", help="Shipyard only")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.points, args.loads = 1_000, 100_000, 3
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: `apt-get install chromium`")
    mlflow_bin = None if args.no_anchor else anchor_mlflow()
    results: dict[str, Any] = {"runs": args.runs, "points": args.points, "loads": args.loads, "notes": []}
    for key in ("table_ours", "table_mlflow", "chart_ours", "chart_mlflow", "filter_ours", "search_ours"):
        results[key] = None
    results["search_mlflow"] = None
    BENCH.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=BENCH, prefix="studio-") as tmp, Processes() as procs:
        work = Path(tmp)
        ours = start_shipyard(procs, sys.executable, work / "home", work / "shipyard.log", ROOT)
        say(f"shipyard at {ours.url}; logging {args.runs:,} runs and {args.points:,} points")
        mine = log_data(ours, args.runs, args.points)
        say(f"  logged in {mine.seconds['runs']:.0f} s + {mine.seconds['points']:.0f} s")
        anchor = theirs = None
        if mlflow_bin is not None:
            anchor = start_mlflow(procs, mlflow_bin, work / "mlflow", work / "mlflow.log")
            wait_idle(anchor)
            say(f"mlflow at {anchor.url}; logging the same")
            theirs = log_data(anchor, args.runs, args.points)
            say(f"  logged in {theirs.seconds['runs']:.0f} s + {theirs.seconds['points']:.0f} s")
            wait_idle(anchor)
        else:
            results["notes"].append("MLflow left out (--no-anchor)")
        results["logging_s"] = {"shipyard": mine.seconds, "mlflow": theirs.seconds if theirs else None}
        measure_pages(results, ours, mine, anchor, theirs)
        measure_search(results, ours, mine, anchor, theirs)
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
