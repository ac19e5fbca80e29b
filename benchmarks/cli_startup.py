"""How long a CLI command takes before it asks the server anything: ``shipyard experiment
list`` beside ``mlflow experiments search``, the MLflow CLI users know, against one Shipyard
server.

    .venv/bin/python benchmarks/cli_startup.py            # 15 runs of each (~1.5 min)
    .venv/bin/python benchmarks/cli_startup.py --runs 5   # fewer

Both commands reach the server through a small TCP relay in this process that notes when the
first byte of the first request arrives. Per run and command: **time to first request**
(from just before the process is spawned to that byte: interpreter start, imports, option
parsing, building the client) and **total** (to the process's exit: the answer printed too).
The commands take turns, ours then MLflow's, then MLflow's then ours…, after one untimed run
of each (so neither pays for a cold file cache). Medians, and MLflow's median over ours as the
ratio. Goals (issue 11): ours <= 0.25 s to the first request, and >= 5x faster than MLflow's.

The MLflow CLI is ``.venv-anchor/bin/mlflow`` (``benchmarks/setup_anchor.sh``: the full
package) when it is there, else the ``mlflow`` next to our Python.
Results: ``.bench/cli_startup.json`` (every sample) and ``.bench/cli_startup.md``; see
docs/benchmarks.md#cli-start-up.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from _measure import markdown_table, median, run_header, say
from _servers import Processes, Server, client_env, start_shipyard, wait_idle

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / ".bench"
FIRST_REQUEST_GOAL_S = 0.25
RATIO_GOAL = 5.0


@dataclass(frozen=True)
class Sizes:
    runs: int


@dataclass
class Command:
    label: str
    argv: list[str]
    first_request: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)


class Relay:
    """Forwards 127.0.0.1:<port> to the server and notes when a request's first byte arrives."""

    def __init__(self, upstream: str) -> None:
        host, _, port = upstream.removeprefix("http://").partition(":")
        self._upstream = (host, int(port))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._first: float | None = None
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="relay", daemon=True).start()

    def reset(self) -> None:
        with self._lock:
            self._first = None

    def first_byte(self) -> float | None:
        with self._lock:
            return self._first

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client, socket.create_connection(self._upstream) as server:
            first = client.recv(65536)
            with self._lock:
                if self._first is None and first:
                    self._first = time.perf_counter()
            if not first:
                return
            server.sendall(first)
            back = threading.Thread(target=_pump, args=(server, client), daemon=True)
            back.start()
            _pump(client, server)
            back.join(timeout=30)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        return


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each command (default 15)")
    parser.add_argument("--keep", action="store_true", help="keep the server's home and log under .bench/")
    return parser.parse_args()


def mlflow_cli() -> Path:
    anchor = ROOT / ".venv-anchor" / "bin" / "mlflow"
    if anchor.exists():
        return anchor
    return Path(sys.executable).parent / "mlflow"


def time_once(command: Command, relay: Relay, env: dict[str, str]) -> None:
    relay.reset()
    start = time.perf_counter()
    done = subprocess.run(command.argv, env=env, capture_output=True, text=True, check=False, timeout=120)
    end = time.perf_counter()
    first = relay.first_byte()
    if done.returncode != 0 or first is None:
        raise RuntimeError(f"{' '.join(command.argv)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    command.first_request.append(first - start)
    command.total.append(end - start)


def measure(server: Server, sizes: Sizes) -> tuple[Command, Command, dict[str, Any]]:
    relay = Relay(server.url)
    try:
        env = client_env(server) | {"SHIPYARD_URL": relay.url, "MLFLOW_TRACKING_URI": relay.url}
        ours = Command(
            "shipyard experiment list", [str(Path(sys.executable).parent / "shipyard"), "experiment", "list"]
        )
        anchor = Command("mlflow experiments search", [str(mlflow_cli()), "experiments", "search"])
        for command in (ours, anchor):
            say(f"warm-up: {command.label}")
            time_once(command, relay, env)
            command.first_request.clear()
            command.total.clear()
        for i in range(sizes.runs):
            say(f"run {i + 1}/{sizes.runs}")
            for command in (ours, anchor) if i % 2 == 0 else (anchor, ours):
                time_once(command, relay, env)
        version = subprocess.run(
            [str(mlflow_cli()), "--version"], capture_output=True, text=True, check=False, env=env
        ).stdout.strip()
        return ours, anchor, {"mlflow_cli": str(mlflow_cli()), "mlflow_version": version}
    finally:
        relay.close()


def report(ours: Command, anchor: Command) -> list[str]:
    first_ours, first_anchor = median(ours.first_request), median(anchor.first_request)
    total_ours, total_anchor = median(ours.total), median(anchor.total)
    ratio = first_anchor / first_ours
    rows = [
        ("measure", "shipyard experiment list", "mlflow experiments search", "ratio", "goal", "met"),
        (
            "time to first request",
            f"{first_ours * 1000:.0f} ms",
            f"{first_anchor * 1000:.0f} ms",
            f"{ratio:.1f}x",
            f"<= {FIRST_REQUEST_GOAL_S * 1000:.0f} ms, >= {RATIO_GOAL:g}x",
            "yes" if first_ours <= FIRST_REQUEST_GOAL_S and ratio >= RATIO_GOAL else "NO",
        ),
        (
            "total (answer printed)",
            f"{total_ours * 1000:.0f} ms",
            f"{total_anchor * 1000:.0f} ms",
            f"{total_anchor / total_ours:.1f}x",
            "",
            "",
        ),
    ]
    spread = (
        f"{len(ours.first_request)} runs each; time to first request {_span(ours.first_request)} (ours)"
        f" and {_span(anchor.first_request)} (MLflow's)"
    )
    return [*markdown_table(rows), "", spread]


def _span(samples: list[float]) -> str:
    return f"{min(samples) * 1000:.0f} to {max(samples) * 1000:.0f} ms"


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the `with` block that stops the server


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, _terminate)
    sizes = Sizes(runs=args.runs)
    work = BENCH / f"cli-startup-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"
    work.mkdir(parents=True)
    results: dict[str, Any] = run_header(sizes, quick=False)
    try:
        with Processes() as procs:
            say("starting a Shipyard server")
            server = start_shipyard(procs, sys.executable, work / "home", work / "server.log", ROOT)
            wait_idle(server)
            ours, anchor, about = measure(server, sizes)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    results |= about
    results["samples"] = {
        c.label: {"first_request": c.first_request, "total": c.total} for c in (ours, anchor)
    }
    lines = report(ours, anchor)
    print("\n".join(lines))
    (BENCH / "cli_startup.json").write_text(json.dumps(results, indent=2))
    (BENCH / "cli_startup.md").write_text("\n".join(lines) + "\n")
    print(f"results: {BENCH / 'cli_startup.json'}, {BENCH / 'cli_startup.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
