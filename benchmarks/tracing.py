"""Tracing (issue 18): traces logged by ``@mlflow.trace`` code through the unchanged client,
Shipyard beside the MLflow server, measured in the same run.

    .venv/bin/python benchmarks/tracing.py                 # 10,000 traces of 10 spans, 5 searches each
    .venv/bin/python benchmarks/tracing.py --quick         # 1,000 traces, 3 searches: a smoke run
    .venv/bin/python benchmarks/tracing.py --no-anchor     # Shipyard only
    .venv/bin/python benchmarks/tracing.py --no-floor      # without the client-alone side

Each side is a fresh server: Shipyard as ``shipyard up`` (sign-in on, SQLite, its defaults),
the anchor ``mlflow server`` (SQLite backend, artifacts proxied; its defaults) from its own venv
(``.bench/anchors/mlflow-ui``, MLflow 3.17, built once from the package registry). The client
is the same for both: this venv's ``mlflow`` 3.17 in a subprocess (``_tracing_client.py``),
its defaults (asynchronous trace export, 10 export workers, span batches of 5) but two queues,
sized to hold everything so that nothing is dropped on either side: the export queue (its
default, 1,000 tasks, drops traces while a server falls behind; a trace is up to one task per
span batch plus one for its info) and OpenTelemetry's span queue before it (2,048 spans, not
settable: it drops spans when the calling thread outpaces the export thread), and the
buffer of traces waiting for that export (1,000 traces, ``MLFLOW_TRACE_BUFFER_MAX_SIZE``); one thread
calling a decorated function that makes a root span and ``--spans - 1`` child spans, plus a
trace tag.

Figures:
- traces per second: ``--traces`` calls, from the first until
  ``mlflow.flush_trace_async_logging()`` returns (every trace handed to the server); then
  every trace is counted back through ``search_traces`` (a lost trace fails the side);
- ``mlflow.search_traces`` (spans included, ``return_type="list"``): the newest 100, 100 by a
  tag filter, 100 by status and execution time ordered by time — the median of ``--searches``.

The client's floor: the same client against ``_tracing_floor.py``, a server that answers from
memory at once — what the client costs alone on this machine. No server can be more than
(MLflow's time / the floor's) faster through this client; printed as "best possible" under
the table.

The issue's bar: ≥ 10x the traces per second, and ``search_traces`` ≥ 5x faster.
Results: ``.bench/tracing.json`` and ``.bench/tracing.md``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _anchor_mlflow import anchor_mlflow, anchor_version
from _servers import Processes, Server, _wait_healthy, free_port, start_mlflow, start_shipyard, wait_idle

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / ".bench"
HERE = Path(__file__).resolve().parent
CLIENT = HERE / "_tracing_client.py"
FLOOR = HERE / "_tracing_floor.py"


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run_side(server: Server, work: Path, traces: int, spans: int, searches: int) -> dict[str, Any]:
    job = work / f"{server.name}-job.json"
    job.write_text(
        json.dumps(
            {"url": server.url, "token": server.token, "experiment": "bench-traces", "traces": traces,
             "spans": spans, "searches": searches}
        )
    )  # fmt: skip
    done = subprocess.run(
        [sys.executable, str(CLIENT), str(job)],
        capture_output=True,
        text=True,
        check=False,
        timeout=7200,
        cwd=work,
    )
    if done.returncode != 0:
        return {"error": (done.stderr or done.stdout)[-2000:]}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["traces_per_s"] = result["traces"] / result["logged_s"]
    if result["stored"] != traces:
        result["error"] = f"{result['stored']} of {traces} traces were stored"
    return result


def start_floor(procs: Processes, work: Path) -> Server:
    port = free_port()
    log = work / "floor.log"
    proc = procs.spawn([sys.executable, str(FLOOR), str(port)], log=log, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    _wait_healthy(f"{url}/health", proc, time.monotonic() + 60, log)
    return Server("floor", url, proc, 0.0, log)


def _ratio(ours: float | None, theirs: float | None) -> str:
    return f"{ours / theirs:.1f}x" if ours and theirs else "—"


def report(results: dict[str, Any]) -> str:
    ours, theirs = results["shipyard"], results.get("mlflow") or {}
    floor = results.get("floor") or {}
    lines = [
        f"{results['traces']:,} traces of {results['spans']} spans; "
        f"MLflow server {results['anchor_version']}; searches: median of {results['searches']}",
        "",
        "| figure | Shipyard | MLflow server | ratio | goal | client alone |",
        "|---|---|---|---|---|---|",
    ]
    sides = (("Shipyard", ours), ("MLflow", theirs))
    failed = [f"- FAILED ({who}): {side['error'][:300]}" for who, side in sides if side.get("error")]
    if floor.get("error"):
        failed.append(f"- the client-alone side failed: {floor['error'][:300]}")
    mine, other = ours.get("traces_per_s"), theirs.get("traces_per_s")
    rate = mine / other if mine and other else None
    lines.append(
        f"| traces logged per second | {mine or 0:,.0f} | {other or 0:,.0f} | {_ratio(mine, other)} "
        f"| >= 10x {'✓' if rate and rate >= 10 else '✗'} | {floor.get('traces_per_s') or 0:,.0f} |"
    )
    searches_met = True
    for name, found in (ours.get("searches") or {}).items():
        a = found.get("median_s")
        b = (theirs.get("searches") or {}).get(name, {}).get("median_s")
        speedup = b / a if a and b else None
        searches_met = searches_met and bool(speedup and speedup >= 5)
        lines.append(
            f"| search_traces: {name} ({found.get('found')} traces) | {(a or 0) * 1000:,.0f} ms "
            f"| {(b or 0) * 1000:,.0f} ms | {_ratio(b, a)} "
            f"| >= 5x {'✓' if speedup and speedup >= 5 else '✗'} "
            f"| {((floor.get('searches') or {}).get(name, {}).get('median_s') or 0) * 1000:,.0f} ms |"
        )
    if floor.get("traces_per_s") and other:
        best = [f"{floor['traces_per_s'] / other:.1f}x traces/s ({floor['traces_per_s']:,.0f}/s)"]
        for name, found in (floor.get("searches") or {}).items():
            b = (theirs.get("searches") or {}).get(name, {}).get("median_s")
            if b and found.get("median_s"):
                best.append(f"{b / found['median_s']:.1f}x {name} ({found['median_s'] * 1000:,.0f} ms)")
        lines += ["", "- best possible through this client (its floor: a server that answers at once): "
                  + ", ".join(best)]  # fmt: skip
    met = bool(rate and rate >= 10 and searches_met and not failed)
    lines += ["", *failed, f"- the issue's bar (>= 10x traces/s, search_traces >= 5x faster): "
              f"{'met' if met else 'NOT met'}"]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--traces", type=int, default=10_000)
    parser.add_argument("--spans", type=int, default=10, help="spans per trace (a root and its children)")
    parser.add_argument("--searches", type=int, default=5, help="timed repeats of each search (the median)")
    parser.add_argument("--quick", action="store_true", help="1,000 traces, 3 searches")
    parser.add_argument("--no-anchor", action="store_true", help="Shipyard only")
    parser.add_argument("--no-floor", action="store_true", help="leave out the client-alone side")
    args = parser.parse_args()
    if args.quick:
        args.traces, args.searches = 1_000, 3
    mlflow_bin = None if args.no_anchor else anchor_mlflow()
    results: dict[str, Any] = {
        "traces": args.traces, "spans": args.spans, "searches": args.searches,
        "anchor_version": anchor_version() if mlflow_bin else "left out",
    }  # fmt: skip
    BENCH.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=BENCH, prefix="tracing-") as tmp:
        work = Path(tmp)
        with Processes() as procs:
            ours = start_shipyard(procs, sys.executable, work / "home", work / "shipyard.log", ROOT)
            wait_idle(ours)
            say(f"shipyard at {ours.url}: {args.traces:,} traces")
            results["shipyard"] = run_side(ours, work, args.traces, args.spans, args.searches)
        if not args.no_floor:
            with Processes() as procs:
                floor = start_floor(procs, work)
                say(f"client alone at {floor.url}: {args.traces:,} traces")
                results["floor"] = run_side(floor, work, args.traces, args.spans, args.searches)
        if mlflow_bin is not None:
            with Processes() as procs:
                anchor = start_mlflow(procs, mlflow_bin, work / "mlflow", work / "mlflow.log")
                wait_idle(anchor)
                say(f"mlflow at {anchor.url}: {args.traces:,} traces")
                results["mlflow"] = run_side(anchor, work, args.traces, args.spans, args.searches)
    text = report(results)
    print(text)
    (BENCH / "tracing.json").write_text(json.dumps(results, indent=2))
    (BENCH / "tracing.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
