"""The same ``mlflow`` client against Shipyard and against ``mlflow server``, in one run
(issue 3's speed goals): ``make bench-mlflow``.

    .venv/bin/python benchmarks/mlflow_client.py            # full run (~6 minutes on 2 cores)
    .venv/bin/python benchmarks/mlflow_client.py --quick    # 10x smaller, fewer samples
    .venv/bin/python benchmarks/mlflow_client.py --runs 2000 --rounds 100   # issue 11's search size

The client is the full ``mlflow`` of ``.venv-anchor`` (``_client_side.py``), one process per
server, the same code both times. The servers run one after the other on free loopback
ports with SQLite, each left to go idle before it is measured, and are stopped at the end,
also on error. The 10,000 search runs and the 100,000-point history are written through
each server's own schema (see docs/benchmarks.md). Results go to
``.bench/mlflow-client.json`` and ``.bench/mlflow-client.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console

import shipyard
from _client_report import build_rows, markdown, markdown_small, notes, render, render_small, small_rows
from _dataset import BASE_TS, metric_value
from _measure import run_header, say
from _ours import populate_search
from _servers import Processes, Server, client_env, free_port, start_mlflow, start_shipyard, wait_idle
from shipyard import Client
from shipyard.client._batcher import encode_batch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ANCHOR = ROOT / ".venv-anchor"
HISTORY_CHUNK = 25_000  # points per native bulk request while populating Shipyard's history


@dataclass(frozen=True)
class Sizes:
    runs: int
    history_points: int
    calls: int  # samples of log_batch
    rounds: int  # samples of the small calls: health, log_metric, get_run, search_runs (in turns)
    history_repeat: int  # samples of get_metric_history (~13 s each on MLflow's server)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="The mlflow client against Shipyard and mlflow server.")
    parser.add_argument("--quick", action="store_true", help="10x smaller data, fewer samples")
    parser.add_argument("--calls", type=int, help="samples of log_batch (default 20; quick 10)")
    parser.add_argument(
        "--rounds",
        type=int,
        help="rounds of the small calls, each a sample of health, log_metric, get_run and search_runs"
        " through the client and raw (default 60; quick 20)",
    )
    parser.add_argument(
        "--runs", type=int, help="runs in the searched experiment (default 10,000; quick 1,000)"
    )
    parser.add_argument(
        "--history-repeat", type=int, help="samples of get_metric_history (default 3; quick 2)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases and logs under .bench/")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="py-spy records Shipyard's server while the client measures: DIR/shipyard.txt, collapsed stacks",
    )
    return parser.parse_args()


def choose_sizes(args: argparse.Namespace) -> Sizes:
    scale = 10 if args.quick else 1
    return Sizes(
        runs=args.runs or 10_000 // scale,
        history_points=100_000 // scale,
        calls=args.calls or (10 if args.quick else 20),
        rounds=args.rounds or (20 if args.quick else 60),
        history_repeat=args.history_repeat or (2 if args.quick else 3),
    )


def ensure_anchor() -> None:
    if not (ANCHOR / ".anchor-installed").exists():
        say("creating .venv-anchor with the newest mlflow (once)")
        subprocess.run(["bash", str(HERE / "setup_anchor.sh")], check=True)


def start_bare(procs: Processes, work: Path) -> str:
    """``_bare_asgi.py`` (a constant answer, on uvicorn as ``shipyard up`` runs): what an HTTP
    round trip costs the client when the server does nothing. Its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = procs.spawn(
        [sys.executable, str(HERE / "_bare_asgi.py"), str(port)], log=work / "bare.log", cwd=HERE
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the bare ASGI app did not answer at {url}") from None
            time.sleep(0.05)


def client_side(server: Server, sizes: Sizes, extra: list[str]) -> dict[str, Any]:
    """Run ``_client_side.py`` in the anchor's venv against ``server``; its JSON result."""
    argv = [
        str(ANCHOR / "bin" / "python"),
        str(HERE / "_client_side.py"),
        f"--url={server.url}",
        f"--runs={sizes.runs}",
        f"--history-points={sizes.history_points}",
        f"--calls={sizes.calls}",
        f"--rounds={sizes.rounds}",
        f"--history-repeat={sizes.history_repeat}",
        *extra,
    ]
    # Same for both servers: fail at once instead of retrying a 5xx with back-off for minutes,
    # and no usage telemetry thread phoning home from the client. Shipyard's adds its token
    # (MLFLOW_TRACKING_TOKEN); the MLflow server has none.
    env = client_env(server, MLFLOW_HTTP_REQUEST_MAX_RETRIES="0", MLFLOW_DISABLE_TELEMETRY="true")
    done = subprocess.run(argv, stdout=subprocess.PIPE, text=True, check=True, cwd=HERE, env=env)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def populate_history(client: Client, n: int) -> str:
    """Shipyard's history: ``n`` points of ``m0`` through the native bulk endpoint, the same
    steps, values and timestamps as MLflow's SQL-inserted series."""
    experiment = client.create_experiment("history")
    run = client.create_run(experiment.id, name="history")
    for first in range(0, n, HISTORY_CHUNK):
        points = [
            ("m0", metric_value(0, s), s, BASE_TS + s) for s in range(first, min(n, first + HISTORY_CHUNK))
        ]
        client.log_metric_batch(run.id, encode_batch(points), uuid.uuid4().hex)
    return run.id


@contextlib.contextmanager
def profiled(pid: int, out: Path | None) -> Iterator[None]:
    """py-spy records ``pid`` (non-blocking: it never pauses the server) while the block runs."""
    if out is None:
        yield
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    argv = [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid), "--nonblocking"]
    spy = subprocess.Popen(
        [*argv, "--rate", "200", "--format", "raw", "-o", str(out)], stdout=subprocess.DEVNULL
    )
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)
        say(f"py-spy profile of the server: {out}")


def run_shipyard(
    procs: Processes, work: Path, sizes: Sizes, profile: Path | None, bare: str
) -> dict[str, Any]:
    home = work / "shipyard"
    server = start_shipyard(procs, sys.executable, home, work / "shipyard.log", ROOT)
    try:
        say(f"shipyard {shipyard.__version__} at {server.url}, idle {wait_idle(server):.0f} s after start")
        sdk = Client(server.url, token=server.token)
        try:
            say(f"populating {sizes.runs:,} runs (SQL clones), a {sizes.history_points:,}-point history")
            search_exp, populate = populate_search(sdk, home / "shipyard.db", sizes.runs)
            start = time.perf_counter()
            history_run = populate_history(sdk, sizes.history_points)
            populate["history_seconds"] = time.perf_counter() - start
        finally:
            sdk.close()
        wait_idle(server)
        with profiled(server.proc.pid, profile and profile / "shipyard.txt"):
            ids = [
                f"--search-experiment={search_exp}",
                f"--history-run={history_run}",
                "--health-path=/healthz",
                f"--bare-url={bare}",
            ]
            result = client_side(server, sizes, ids)
    finally:
        procs.stop(server.proc)
    return result | {"version": shipyard.__version__, "populate": populate}


def run_mlflow(procs: Processes, work: Path, sizes: Sizes, bare: str) -> dict[str, Any]:
    data = work / "mlflow"
    say("starting mlflow server (SQLite backend)")
    server = start_mlflow(procs, ANCHOR / "bin" / "mlflow", data, work / "mlflow.log")
    try:
        healthy = server.seconds_to_healthy
        say(f"mlflow server healthy after {healthy:.0f} s, idle {wait_idle(server):.0f} s later")
        extra = [f"--populate-db={data / 'mlflow.db'}", "--health-path=/health", f"--bare-url={bare}"]
        return client_side(server, sizes, extra)
    finally:
        procs.stop(server.proc)


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the `finally` that stops the servers


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, _terminate)
    sizes = choose_sizes(args)
    console = Console() if sys.stdout.isatty() else Console(width=160)
    began = time.perf_counter()
    bench = ROOT / ".bench"
    work = bench / f"mlflow-client-{dt.datetime.now():%Y%m%d-%H%M%S}"
    work.mkdir(parents=True)
    ensure_anchor()
    results: dict[str, Any] = run_header(sizes, args.quick)
    try:
        with Processes() as procs:
            bare = start_bare(procs, work)
            say("Shipyard")
            results["shipyard"] = run_shipyard(procs, work, sizes, args.profile, bare)
            say("MLflow server")
            results["mlflow"] = run_mlflow(procs, work, sizes, bare)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    results["machine"]["load_average_after"] = os.getloadavg()
    results["wall_seconds"] = time.perf_counter() - began

    rows = build_rows(results)
    title = f"The {results['mlflow']['client']} client against Shipyard and mlflow server (medians)"
    render(rows, title, console)
    small = small_rows(results)
    render_small(small, console)
    lines = notes(results)
    for line in lines:
        console.print(line)
    (bench / "mlflow-client.json").write_text(json.dumps(results, indent=2))
    text = markdown(rows) + "\n" + markdown_small(small) + "\n" + "\n".join(f"- {n}" for n in lines) + "\n"
    (bench / "mlflow-client.md").write_text(text)
    console.print(f"results: {bench / 'mlflow-client.json'}, table: {bench / 'mlflow-client.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
