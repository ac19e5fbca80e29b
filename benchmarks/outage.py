"""Nothing lost through an outage: a training script logging through a server killed with
``-9``, kept down, and started again on the same home and port; and how fast scoring
workers go when their server is killed.

    .venv/bin/python benchmarks/outage.py                        # 60 s outage, 3 rounds (~15 min)
    .venv/bin/python benchmarks/outage.py --outage-s 20 --rounds 1 --worker-rounds 1   # ~4 min

**SDK.** Per round and variant: a fresh server; a script logging two metrics per step at up to
``--rate`` steps/s; 10 s in, the server's process group gets SIGKILL; ``--outage-s`` later it
starts again on the same home and port; 10 s after that the script is told to stop and ends
its run. Counted from the server: distinct (key, step) points stored against points logged, points
stored twice (a retried write the server had committed), the run's
``shipyard.lost_metric_points`` tag, the slowest log call (how long did the loop wait on the
dead server?), how long after the restart the kept points were all in (the spill file gone),
and how long ending the run took. Three variants, taking turns (``--variants``):

- **ours**: ``shipyard.start_run`` with the spill (the default);
- **mlflow**, the anchor: the unchanged ``mlflow`` client (``mlflow.log_metrics``, its
  defaults: synchronous, 7 retries with exponential back-off) on Shipyard's MLflow API; a
  call that still fails is caught and the loop goes on;
- **before**: our SDK with the spill off (``SHIPYARD_SPILL_MAX_MB=0``), what issue 12
  measured: a batch dropped after ~3 s of retries (the error each dropped batch raises is
  caught and the loop goes on).

Medians over ``--rounds``.

**Workers.** ``--worker-rounds`` times: a process holding a ``LocalProcessRuntime`` with a
two-worker deployment (a scoring script) is killed with ``-9``; the time until both workers
are gone. Before issue 12 they never went (they served on, orphaned).

Results: ``.bench/outage.json`` (every sample) and ``.bench/outage.md``; see
docs/benchmarks.md#sdk-through-an-outage.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from _measure import markdown_table, median, run_header, say
from _servers import Processes, Server, client_env, start_shipyard

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / ".bench"
WARM_S, AFTER_S = 10.0, 10.0

TRAINER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    import shipyard
    from shipyard.errors import ShipyardError

    url, folder, rate = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
    shipyard.connect(url)
    run = shipyard.start_run(experiment="outage-bench")
    (folder / "run_id").write_text(run.id)
    calls, errors, step = [], 0, 0
    started = time.monotonic()
    while not (folder / "stop").exists():
        pause = started + step / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        t0 = time.perf_counter()
        try:
            run.log_metrics({"loss": 1 / (step + 1), "acc": step / 1e6}, step=step)
        except ShipyardError:  # the anchor: a dropped batch is raised on the next call
            errors += 1
        calls.append(time.perf_counter() - t0)
        step += 1
    t0 = time.perf_counter()
    try:
        run.end()
    except ShipyardError:
        errors += 1
    calls.sort()
    print(json.dumps({
        "run_id": run.id, "steps": step, "errors": errors, "end_s": time.perf_counter() - t0,
        "slowest_call_s": calls[-1], "p99_call_s": calls[int(len(calls) * 0.99)],
    }))
    """
)


# The anchor: the unchanged ``mlflow`` client (its defaults: synchronous calls, 7 retries with
# exponential back-off) logging the same two metrics per step to Shipyard's MLflow API. A
# call that raises after its retries is a step whose points are lost; the loop goes on.
MLFLOW_TRAINER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    import mlflow

    folder, rate = Path(sys.argv[2]), float(sys.argv[3])
    mlflow.set_experiment("outage-bench-mlflow")
    run = mlflow.start_run()
    (folder / "run_id").write_text(run.info.run_id)
    calls, errors, step = [], 0, 0
    started = time.monotonic()
    while not (folder / "stop").exists():
        pause = started + step / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        t0 = time.perf_counter()
        try:
            mlflow.log_metrics({"loss": 1 / (step + 1), "acc": step / 1e6}, step=step)
        except Exception:
            errors += 1
        calls.append(time.perf_counter() - t0)
        step += 1
    t0 = time.perf_counter()
    try:
        mlflow.end_run()
    except Exception:
        errors += 1
    calls.sort()
    print(json.dumps({
        "run_id": run.info.run_id, "steps": step, "errors": errors, "end_s": time.perf_counter() - t0,
        "slowest_call_s": calls[-1], "p99_call_s": calls[int(len(calls) * 0.99)],
    }))
    """
)
VARIANTS = ("ours", "mlflow", "before")


def kill_group(server: Server) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.proc.pid, signal.SIGKILL)
    server.proc.wait()


def sdk_round(variant: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    home, folder, spill = work / "home", work / "signals", work / "spill"
    folder.mkdir(parents=True)
    with Processes() as procs:
        server = start_shipyard(procs, sys.executable, home, work / "server.log", ROOT)
        port = urlsplit(server.url).port
        env = client_env(
            server,
            SHIPYARD_SPILL_DIR=str(spill),
            SHIPYARD_SPILL_MAX_MB="0" if variant == "before" else "1024",
            SHIPYARD_OUTAGE_WAIT="600",
        )
        script = MLFLOW_TRAINER if variant == "mlflow" else TRAINER
        trainer = procs.spawn(
            [sys.executable, "-c", script, server.url, str(folder), str(args.rate)],
            log=work / "trainer.log",
            cwd=work,
            pipe_stdout=True,
            env={k: v for k, v in env.items() if k.startswith(("SHIPYARD_", "MLFLOW_"))},
        )
        time.sleep(WARM_S)
        kill_group(server)
        say(f"{variant}: server killed; down for {args.outage_s:g} s")
        time.sleep(args.outage_s)
        again = start_shipyard(
            procs, sys.executable, home, work / "server.log", ROOT, port=port or 0, token=server.token
        )
        back = time.monotonic()
        caught_up = None
        # Until the spill is gone, also past the stop (end() sends what is left), or the script ends.
        while trainer.poll() is None:
            if caught_up is None and not list(spill.glob("*.spill")):
                caught_up = time.monotonic() - back
            if time.monotonic() - back >= AFTER_S and not (folder / "stop").exists():
                (folder / "stop").touch()
            if caught_up is not None and (folder / "stop").exists():
                break
            time.sleep(0.05)
        out, _ = trainer.communicate(timeout=900)
        # mlflow prints "View run …" lines before the script's own
        result: dict[str, Any] = json.loads(out.splitlines()[-1])
        result |= stored(again, result["run_id"])
        result["caught_up_s"] = caught_up
        result["logged"] = 2 * result["steps"]
        say(
            f"{variant}: logged {result['logged']:,}, stored {result['stored']:,}, "
            f"slowest call {result['slowest_call_s'] * 1000:.1f} ms"
        )
        return result


def stored(server: Server, run_id: str) -> dict[str, Any]:
    """What the server holds for the run: every point, and the distinct (key, step) pairs among
    them. A client that retries a write the server had committed (its answer lost to the kill)
    stores that point twice: the difference is counted as duplicates, never as points kept."""
    from shipyard.client.client import Client

    with Client(server.url, token=server.token) as client:
        run = client.get_run(run_id)
        steps = {key: client.get_metric_history(run_id, key).steps for key in run.metrics}
        return {
            "stored": sum(len(set(s)) for s in steps.values()),
            "duplicates": sum(len(s) - len(set(s)) for s in steps.values()),
            "status": run.status,
            "lost_tag": run.tags.get("shipyard.lost_metric_points"),
        }


HOST = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from shipyard.serving.local import LocalProcessRuntime
    from shipyard.services.serving_ports import DeploymentKey, DeploymentPlan, Probe

    quick = Probe(initial_delay=0.1, period=0.2, timeout=2.0, failure_threshold=60)
    state, code, model = (Path(a) for a in sys.argv[1:4])
    runtime = LocalProcessRuntime(state)
    key = DeploymentKey("default", "bench", "blue")
    plan = DeploymentPlan(key, "r1", "custom", model, code_dir=code, scoring_script="score.py",
                          instance_count=2, liveness=quick, readiness=quick)
    runtime.apply(plan)
    print(" ".join(str(i.pid) for i in runtime.wait_ready(key, 120)), flush=True)
    sys.stdin.read()
    """
)


def gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def worker_round(work: Path) -> float:
    (work / "code").mkdir(parents=True)
    (work / "code" / "score.py").write_text("def init():\n    pass\n\ndef run(raw):\n    return raw\n")
    (work / "model").mkdir()
    host = subprocess.Popen(
        [sys.executable, "-c", HOST, str(work / "state"), str(work / "code"), str(work / "model")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert host.stdout is not None
    assert host.stdin is not None
    pids = [int(p) for p in host.stdout.readline().split()]
    killed = time.perf_counter()
    host.kill()
    while not all(gone(p) for p in pids):
        if time.perf_counter() - killed > 30:
            for p in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p, signal.SIGKILL)
            raise RuntimeError("workers outlived their runtime by 30 s")
        time.sleep(0.005)
    took = time.perf_counter() - killed
    host.wait()
    host.stdin.close()
    host.stdout.close()
    return took


def report(
    rounds: dict[str, list[dict[str, Any]]], worker_s: list[float], args: argparse.Namespace
) -> list[str]:
    def med(variant: str, key: str) -> float:
        return median([float(r[key]) for r in rounds[variant] if r[key] is not None])

    rows: list[tuple[str, ...]] = [
        (
            "SDK",
            "points logged",
            "points stored",
            "lost",
            "stored twice",
            "run tagged lost",
            "slowest log call",
            "kept points all in",
            "end()",
        )
    ]
    labels = {
        "ours": "ours (spill)",
        "mlflow": "anchor: mlflow client, unchanged",
        "before": "before issue 12 (spill off)",
    }
    for variant in (v for v in VARIANTS if rounds[v]):
        lost = med(variant, "logged") - med(variant, "stored")
        tagged = sum(1 for r in rounds[variant] if r["lost_tag"]) / len(rounds[variant])
        caught = [r["caught_up_s"] for r in rounds[variant] if r["caught_up_s"] is not None]
        rows.append(
            (
                labels[variant],
                f"{med(variant, 'logged'):,.0f}",
                f"{med(variant, 'stored'):,.0f}",
                f"{lost:,.0f} ({lost / med(variant, 'logged'):.1%})",
                f"{med(variant, 'duplicates'):,.0f}",
                "-" if variant == "mlflow" else f"{tagged:.0%} of runs",
                _seconds(med(variant, "slowest_call_s")),
                f"{median(caught):.1f} s after the restart" if caught and variant == "ours" else "-",
                f"{med(variant, 'end_s'):.2f} s",
            )
        )
    lines = [
        f"Outage of {args.outage_s:g} s (server SIGKILLed, restarted on the same home and port), "
        f"{args.rate:g} steps/s x 2 metrics, medians of {args.rounds} round(s):",
        "",
        *markdown_table(rows),
        "",
        *_versus(rounds),
        "",
        f"Scoring workers gone after their runtime's SIGKILL: median {median(worker_s) * 1000:.0f} ms,"
        f" slowest {max(worker_s) * 1000:.0f} ms of {len(worker_s)} (bound: 2 s; before issue 12: never)",
    ]
    return lines


def _seconds(value: float) -> str:
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.1f} s"


def _versus(rounds: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Ours beside the anchor: points lost, and the longest the training loop waited."""
    if not rounds["ours"] or not rounds["mlflow"]:
        return []

    def med(variant: str, key: str) -> float:
        return median([float(r[key]) for r in rounds[variant]])

    lost = {v: med(v, "logged") - med(v, "stored") for v in ("ours", "mlflow")}
    stall = {v: med(v, "slowest_call_s") for v in ("ours", "mlflow")}
    return markdown_table(
        [
            ("ours vs the mlflow client", "ours", "mlflow", "ratio (>1: ours better)"),
            ("points lost", f"{lost['ours']:,.0f}", f"{lost['mlflow']:,.0f}", "-"),
            (
                "points stored twice (a retried write)",
                f"{med('ours', 'duplicates'):,.0f}",
                f"{med('mlflow', 'duplicates'):,.0f}",
                "-",
            ),
            (
                "longest the loop waited in one log call",
                _seconds(stall["ours"]),
                _seconds(stall["mlflow"]),
                f"{stall['mlflow'] / stall['ours']:,.0f}x",
            ),
            (
                "steps logged (the script told to stop 10 s after the restart)",
                f"{med('ours', 'steps'):,.0f}",
                f"{med('mlflow', 'steps'):,.0f}",
                f"{med('ours', 'steps') / med('mlflow', 'steps'):,.1f}x",
            ),
        ]
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--outage-s", type=float, default=60.0, help="how long the server stays down (60)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each variant (3)")
    parser.add_argument("--rate", type=float, default=2000.0, help="steps per second logged (2000)")
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help="which clients to run, of ours, mlflow (the anchor), before (spill off) (all three)",
    )
    parser.add_argument("--worker-rounds", type=int, default=5, help="kills of a runtime with workers (5)")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    BENCH.mkdir(exist_ok=True)
    results: dict[str, Any] = run_header(args, quick=False)
    rounds: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    chosen = [v for v in VARIANTS if v in args.variants.split(",")]
    with tempfile.TemporaryDirectory(prefix="shipyard-outage-") as tmp:
        for n in range(args.rounds):
            # Taking turns, so a load spike on the machine does not land on one variant only.
            for variant in chosen[n % len(chosen) :] + chosen[: n % len(chosen)]:
                rounds[variant].append(sdk_round(variant, args, Path(tmp) / f"{variant}-{n}"))
        worker_s = [worker_round(Path(tmp) / f"workers-{n}") for n in range(args.worker_rounds)]
        shutil.rmtree(tmp, ignore_errors=True)
    results["sdk"] = rounds
    results["workers_gone_s"] = worker_s
    lines = report(rounds, worker_s, args)
    print("\n".join(lines))
    (BENCH / "outage.json").write_text(json.dumps(results, indent=2))
    (BENCH / "outage.md").write_text("\n".join(lines) + "\n")
    print(f"results: {BENCH / 'outage.json'}, {BENCH / 'outage.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
