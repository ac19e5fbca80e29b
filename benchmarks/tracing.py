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

The server alone (replayed requests; a second figure beside the end-to-end one, which it
does not replace): the client-alone side runs first and records every request the client
sent (``_tracing_floor.py RECORD``); ``_tracing_replay.py`` sends them again without the
client from concurrent ``httpx`` connections and reads the server's CPU time (its process
and children, ``psutil``): each search of 100 with its batch reads, as the client makes
them, on each side's server right after its client ran (over the traces it logged there),
then the writes of the first ``--replay-traces`` traces (10 in flight: the client's export
workers) into a fresh server of each kind, timed in ``--parts`` parts. Reported: traces/s
(median of the parts), server CPU per trace, search time and server CPU per search
(medians). The replaying process shares the 2 cores with the server, as the client does.

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
REPLAY = HERE / "_tracing_replay.py"


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


def start_floor(procs: Processes, work: Path, record: Path | None = None) -> Server:
    port = free_port()
    log = work / "floor.log"
    argv = [sys.executable, str(FLOOR), str(port), *([str(record)] if record else [])]
    proc = procs.spawn(argv, log=log, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    _wait_healthy(f"{url}/health", proc, time.monotonic() + 60, log)
    return Server("floor", url, proc, 0.0, log)


def run_replay(server: Server, work: Path, record: Path, **job: Any) -> dict[str, Any]:
    path = work / f"{server.name}-replay-{job['mode']}.json"
    path.write_text(
        json.dumps(
            {"url": server.url, "token": server.token, "pid": server.proc.pid, "record": str(record),
             "concurrency": 10, **job}
        )
    )  # fmt: skip
    done = subprocess.run(
        [sys.executable, str(REPLAY), str(path)], capture_output=True, text=True, check=False, timeout=7200
    )
    if done.returncode != 0:
        return {"error": (done.stderr or done.stdout)[-2000:]}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if result.get("failed_requests"):
        result["error"] = f"{result['failed_requests']} of {result['requests']} replayed requests failed"
    return result


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
    per = [1000 * (side.get("logged_cpu_s") or 0) / results["traces"] for side in (floor, ours, theirs)]
    if per[0]:
        lines.append(
            f"- the client's CPU per trace (its process, logging): {per[0]:.1f} ms alone, "
            f"{per[1]:.1f} ms beside Shipyard, {per[2]:.1f} ms beside MLflow"
        )
    lines += _replay_report(results)
    met = bool(rate and rate >= 10 and searches_met and not failed)
    lines += ["", *failed, f"- the issue's bar (>= 10x traces/s, search_traces >= 5x faster): "
              f"{'met' if met else 'NOT met'}"]  # fmt: skip
    return "\n".join(lines)


def _replay_report(results: dict[str, Any]) -> list[str]:
    ours, theirs = results.get("replay_shipyard"), results.get("replay_mlflow")
    if not ours:
        return []
    theirs = theirs or {}
    lines = [
        "",
        "Server alone (replayed requests; no client): the writes the client sent for the first "
        f"{ours.get('traces', 0):,} traces, replayed into a fresh server, {ours.get('concurrency', 10)} in "
        f"flight, traces/s the median of {len(ours.get('parts', []))} parts; each search of 100 and its "
        f"batch reads replayed over the {results['traces']:,} traces the client logged; "
        "server CPU = its process and children",
        "",
        "| figure (server alone) | Shipyard | MLflow server | ratio |",
        "|---|---|---|---|",
    ]
    for who, side in (("Shipyard", ours), ("MLflow", theirs)):
        if side.get("error"):
            lines.insert(1, f"- replay FAILED ({who}): {side['error'][:300]}")
    a, b = ours.get("traces_per_s"), theirs.get("traces_per_s")
    lines.append(f"| traces/s | {a or 0:,.0f} | {b or 0:,.0f} | {_ratio(a, b)} |")
    a, b = ours.get("cpu_ms_per_trace"), theirs.get("cpu_ms_per_trace")
    lines.append(f"| server CPU per trace | {a or 0:.1f} ms | {b or 0:.1f} ms | {_ratio(b, a)} less |")
    for name, found in (ours.get("searches") or {}).items():
        other = (theirs.get("searches") or {}).get(name, {})
        a, b = found.get("median_s"), other.get("median_s")
        lines.append(
            f"| search: {name} | {(a or 0) * 1000:,.0f} ms | {(b or 0) * 1000:,.0f} ms | {_ratio(b, a)} |"
        )
        a, b = found.get("server_cpu_s"), other.get("server_cpu_s")
        lines.append(
            f"| server CPU per search: {name} | {(a or 0) * 1000:,.0f} ms | {(b or 0) * 1000:,.0f} ms "
            f"| {_ratio(b, a)} less |"
        )
    return lines


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
    parser.add_argument("--no-replay", action="store_true", help="leave out the server-alone figure")
    parser.add_argument(
        "--replay-traces", type=int, default=2_000, help="traces whose recorded writes are replayed"
    )
    parser.add_argument("--parts", type=int, default=4, help="replayed writes are timed in this many parts")
    args = parser.parse_args()
    if args.quick:
        args.traces, args.searches = 1_000, 3
    args.replay_traces = min(args.replay_traces, args.traces)
    mlflow_bin = None if args.no_anchor else anchor_mlflow()
    results: dict[str, Any] = {
        "traces": args.traces, "spans": args.spans, "searches": args.searches,
        "anchor_version": anchor_version() if mlflow_bin else "left out",
    }  # fmt: skip
    BENCH.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=BENCH, prefix="tracing-") as tmp:
        work = Path(tmp)
        # The client alone first: it records the requests the server-alone figure replays.
        record = None if args.no_floor or args.no_replay else work / "requests.jsonl"
        if not args.no_floor:
            with Processes() as procs:
                floor = start_floor(procs, work, record)
                say(f"client alone at {floor.url}: {args.traces:,} traces")
                results["floor"] = run_side(floor, work, args.traces, args.spans, args.searches)
        replay = record is not None and record.exists()
        sides = [("shipyard", None), *([] if mlflow_bin is None else [("mlflow", mlflow_bin)])]
        for name, binary in sides:
            with Processes() as procs:
                if binary is None:
                    server = start_shipyard(procs, sys.executable, work / "home", work / "shipyard.log", ROOT)
                else:
                    server = start_mlflow(procs, binary, work / "mlflow", work / "mlflow.log")
                wait_idle(server)
                say(f"{name} at {server.url}: {args.traces:,} traces")
                results[name] = run_side(server, work, args.traces, args.spans, args.searches)
                if replay and record is not None:
                    # The same server, over the traces the client just logged to it.
                    say(f"{name}: the recorded searches replayed")
                    results[f"replay_{name}"] = run_replay(
                        server,
                        work,
                        record,
                        mode="searches",
                        experiment="bench-traces",
                        searches=args.searches,
                    )
        for name, binary in sides if replay and record is not None else []:
            with Processes() as procs:
                if binary is None:
                    server = start_shipyard(
                        procs, sys.executable, work / "home2", work / "shipyard2.log", ROOT
                    )
                else:
                    server = start_mlflow(procs, binary, work / "mlflow2", work / "mlflow2.log")
                wait_idle(server)
                say(f"{name} at {server.url}: the recorded writes of {args.replay_traces:,} traces replayed")
                results[f"replay_{name}"].update(
                    run_replay(
                        server, work, record, mode="writes", traces=args.replay_traces, chunks=args.parts
                    )
                )
    text = report(results)
    print(text)
    (BENCH / "tracing.json").write_text(json.dumps(results, indent=2))
    (BENCH / "tracing.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
