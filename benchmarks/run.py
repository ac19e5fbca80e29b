"""Shipyard beside the MLflow tracking server, measured in the same run: ``make bench``.

    .venv/bin/python benchmarks/run.py            # full run (~10 minutes on 2 cores)
    .venv/bin/python benchmarks/run.py --quick    # smaller sizes, a smoke run (~3 minutes)

The anchor (the newest ``mlflow``, server included) lives in ``.venv-anchor``, created by
``benchmarks/setup_anchor.sh`` on first use; its half runs as ``_mlflow_side.py`` inside
that venv. Both servers use SQLite, start on free loopback ports, and are stopped at the
end, also on error. Data goes to ``.bench/`` (removed afterwards unless ``--keep``);
results are written to ``.bench/latest.json`` and ``.bench/latest.md``.
See docs/benchmarks.md for what each measure does.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console

import _ours
import _physical
from _measure import run_header, say, time_calls
from _ours import Sizes
from _report import build_rows, markdown, render
from _servers import Processes, start_mlflow, wait_idle

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ANCHOR = ROOT / ".venv-anchor"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Shipyard vs the MLflow tracking server.")
    parser.add_argument("--quick", action="store_true", help="10x smaller sizes, fewer repeats")
    parser.add_argument("--repeat", type=int, help="samples of each short measure (default 5; quick 3)")
    parser.add_argument(
        "--long-repeat",
        type=int,
        help="samples of our ingestion, MLflow's history and MLflow's start-up (default 3; quick 1)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases under .bench/")
    return parser.parse_args()


def choose_sizes(args: argparse.Namespace) -> Sizes:
    scale = 10 if args.quick else 1
    return Sizes(
        ingest_points=1_000_000 // scale,
        anchor_ingest_points=100_000 // scale,
        history_points=100_000 // scale,  # = ingested steps per key: history reads an ingested run
        runs=10_000 // scale,
        repeat=args.repeat or (3 if args.quick else 5),
        long_repeat=args.long_repeat or (1 if args.quick else 3),
        latency_calls=10 if args.quick else 20,
    )


def ensure_anchor() -> None:
    if not (ANCHOR / ".anchor-installed").exists():
        say("creating .venv-anchor with the newest mlflow (once)")
        subprocess.run(["bash", str(HERE / "setup_anchor.sh")], check=True)


def measure_help(argv: list[str], repeat: int, warmup: int) -> list[float]:
    def one(_: int) -> None:
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)

    samples = time_calls(one, repeat, warmup=warmup)
    say(f"{Path(argv[0]).name} --help: {', '.join(f'{s:.2f}' for s in samples)} s")
    return samples


def run_anchor(procs: Processes, work: Path, sizes: Sizes) -> dict[str, Any]:
    """MLflow's measures against one server, then fresh start-ups (the first one is untimed:
    it warms the page cache, as our side's untimed start does)."""
    mlflow_bin = ANCHOR / "bin" / "mlflow"
    data = work / "mlflow"
    say("starting mlflow server (SQLite backend)")
    server = start_mlflow(procs, mlflow_bin, data, work / "mlflow.log")
    say(f"mlflow server healthy after {server.seconds_to_healthy:.1f} s (warm-up start, untimed)")
    say(f"mlflow server idle {wait_idle(server):.0f} s later (its job runner and consumers start)")
    argv = [
        str(ANCHOR / "bin" / "python"),
        str(HERE / "_mlflow_side.py"),
        f"--url={server.url}",
        f"--db={data / 'mlflow.db'}",
        f"--ingest-points={sizes.anchor_ingest_points}",
        f"--history-points={sizes.history_points}",
        f"--runs={sizes.runs}",
        f"--repeat={sizes.repeat}",
        f"--long-repeat={sizes.long_repeat}",
        f"--latency-calls={sizes.latency_calls}",
    ]
    try:
        done = subprocess.run(argv, stdout=subprocess.PIPE, text=True, check=True, cwd=HERE)
    finally:
        procs.stop(server.proc)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["first_start"] = server.seconds_to_healthy
    result["startup"] = []
    for i in range(sizes.long_repeat):
        fresh = start_mlflow(procs, mlflow_bin, work / f"mlflow-startup-{i}", work / "mlflow-startup.log")
        procs.stop(fresh.proc)
        result["startup"].append(fresh.seconds_to_healthy)
        say(f"mlflow start-up: {fresh.seconds_to_healthy:.1f} s")
    return result


def summary(results: dict[str, Any]) -> list[str]:
    ours, anchor, machine = results["shipyard"], results["mlflow"], results["machine"]
    return [
        "search answers equal the expected first page:"
        f" Shipyard {ours['search']['matches_expected']}, MLflow {anchor['search']['matches_expected']}",
        "SQL-populated run equals one logged through the API:"
        f" Shipyard {ours['populate']['clone_equals_api_run']},"
        f" MLflow {anchor['populate']['clone_equals_api_run']}",
        f"{results['date']}, {machine['cpus']} cores, {machine['platform']}, Python {machine['python']};"
        f" load average {machine['load_average_before'][0]:.1f} before /"
        f" {machine['load_average_after'][0]:.1f} after; whole run {results['wall_seconds'] / 60:.1f} min",
    ]


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the `finally` that stops the servers


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, _terminate)
    sizes = choose_sizes(args)
    # Piped output (make bench | tee) would otherwise be cut to 80 columns.
    console = Console() if sys.stdout.isatty() else Console(width=160)
    began = time.perf_counter()
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    bench = ROOT / ".bench"
    work = bench / f"run-{stamp}"
    work.mkdir(parents=True)
    ensure_anchor()
    results: dict[str, Any] = run_header(sizes, args.quick)
    python = sys.executable
    try:
        with Processes() as procs:
            say("CLI start-up")
            shipyard_help = [str(Path(python).parent / "shipyard"), "--help"]
            results["help"] = {"shipyard": measure_help(shipyard_help, sizes.repeat, warmup=1)}
            say("physical limit")
            results["physical"] = _physical.measure(work, sizes.ingest_points, min(sizes.repeat, 3))
            say("Shipyard")
            results["shipyard"] = _ours.run_all(procs, python, ROOT, work, sizes)
            say("MLflow")
            results["mlflow"] = run_anchor(procs, work, sizes)
            # ~15 s a call here: three samples, after the server runs warmed the page cache.
            mlflow_help = [str(ANCHOR / "bin" / "mlflow"), "--help"]
            results["help"]["mlflow"] = measure_help(mlflow_help, min(sizes.repeat, 3), warmup=0)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    results["machine"]["load_average_after"] = os.getloadavg()
    results["wall_seconds"] = time.perf_counter() - began

    rows = build_rows(results)
    version = results["mlflow"]["version"]
    render(rows, version, console)
    notes = summary(results)
    for line in notes:
        console.print(line)
    (bench / "latest.json").write_text(json.dumps(results, indent=2))
    (bench / "latest.md").write_text(
        markdown(rows, version) + "\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    )
    console.print(f"results: {bench / 'latest.json'}, table: {bench / 'latest.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
