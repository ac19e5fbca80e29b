"""A sweep's scheduling overhead per trial, beside Optuna alone in-process (the floor).

    .venv/bin/python benchmarks/sweep_overhead.py            # 20 trials, 3 rounds (~3 min)
    .venv/bin/python benchmarks/sweep_overhead.py --quick    # 10 trials, 1 round

One Shipyard server (``python -m shipyard up``, SQLite, a fresh home under ``.bench/``). In
turns, ``--rounds`` times:

- **sweep**: a random-sampling sweep of ``--trials`` trials, one at a time
  (``max_concurrent_trials: 1``), each ``python -c pass`` on the built-in ``local`` target;
  per trial = (the sweep's last event - its creation) / trials, from the server's clocks.
  The trials log no metric, so the sweep ends Failed saying so; every trial has run.
- **command jobs**: the same ``python -c pass`` as that many command jobs, one after another
  (each waited for): what any job costs on Shipyard, so sweep - jobs is the sweep's own share.
- **process**: ``python -c pass`` run with ``subprocess`` that many times: the trial's own process.

Anchors, in-process, the same number of trials of a trivial objective: Optuna's TPE in
memory and with SQLite storage (``ask``/``tell``), and Shipyard's own step (a study rebuilt
from the records, then ``ask``), the same code the sweep runs on the server.

Goal (issue 13): the sweep's overhead per trial beyond the trial's own process ≤ 50 ms.
Results: ``.bench/sweep_overhead.json`` and ``.bench/sweep_overhead.md``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from _measure import markdown_table, median, run_header, say
from _servers import Processes, start_shipyard
from shipyard.client.client import Client
from shipyard.domain.jobs import JobStatus
from shipyard.services.sweep_search import SweepSearch, TrialRecord
from shipyard.specs import parse_spec
from shipyard.specs.sweep import SweepJobSpec

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / ".bench"
GOAL_MS = 50.0
TRIAL = f"{sys.executable} -c pass"

SWEEP = """\
type: sweep
trial:
  command: {command} # ${{{{search_space.x}}}}
sampling_algorithm: {{type: random, seed: 1}}
search_space:
  x: {{type: uniform, min_value: 0, max_value: 1}}
  k: {{type: choice, values: [a, b, c]}}
objective: {{goal: maximize, primary_metric: score}}
limits: {{max_total_trials: {trials}, max_concurrent_trials: 1}}
"""


@dataclass
class Sizes:
    trials: int
    rounds: int


def _sweep_file(folder: Path, trials: int, sampler: str = "{type: random, seed: 1}") -> Path:
    path = folder / "sweep.yml"
    path.write_text(SWEEP.format(command=TRIAL, trials=trials).replace("{type: random, seed: 1}", sampler))
    return path


def sweep_per_trial(client: Client, folder: Path, trials: int) -> float:
    job = client.jobs.create(_sweep_file(folder, trials))
    done = client.jobs.wait(job.name, poll_s=0.05, timeout_s=600)
    ran = [c for c in client.jobs.list(parent=job.name, max_results=1000) if c.status is JobStatus.COMPLETED]
    if len(ran) != trials:
        raise RuntimeError(f"sweep {job.name}: {len(ran)} of {trials} trials completed ({done.status})")
    return (done.events[-1].at - done.created_at) / trials


def jobs_per_job(client: Client, folder: Path, count: int) -> float:
    path = folder / "job.yml"
    path.write_text(f"command: {TRIAL}\n")
    first = last = 0
    for _ in range(count):
        job = client.jobs.create(path)
        done = client.jobs.wait(job.name, poll_s=0.01, timeout_s=120)
        first = first or job.created_at
        last = done.events[-1].at
        assert done.status is JobStatus.COMPLETED, done.failure
    return (last - first) / count


def process_per_trial(count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        subprocess.run([sys.executable, "-c", "pass"], check=True)
    return (time.perf_counter() - start) * 1000 / count


def optuna_per_trial(trials: int, storage: str | None) -> float:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=1), storage=storage
    )
    start = time.perf_counter()
    for _ in range(trials):
        trial = study.ask()
        x = trial.suggest_float("x", 0, 1)
        trial.suggest_categorical("k", ["a", "b", "c"])
        study.tell(trial, x)
    return (time.perf_counter() - start) * 1000 / trials


def ours_in_process(trials: int, sampler: str) -> float:
    spec = parse_spec(_text(trials, sampler), SweepJobSpec, "sweep.yml")
    search = SweepSearch(spec, seed=1)
    records: list[TrialRecord] = []
    start = time.perf_counter()
    for _ in range(trials):
        suggestion = search.study(records).ask()
        value = float(suggestion.params["x"])
        records.append(TrialRecord(suggestion.number, suggestion.internal, "completed", [value], value))
    return (time.perf_counter() - start) * 1000 / trials


def _text(trials: int, sampler: str) -> str:
    return SWEEP.format(command="python t.py", trials=trials).replace("{type: random, seed: 1}", sampler)


def measure(client: Client, work: Path, sizes: Sizes) -> dict[str, list[float]]:
    keys = ("sweep", "jobs", "process", "optuna_memory", "optuna_sqlite", "ours_tpe", "ours_random")
    samples: dict[str, list[float]] = {k: [] for k in keys}
    for r in range(sizes.rounds):
        say(f"round {r + 1}/{sizes.rounds}")
        samples["sweep"].append(sweep_per_trial(client, work, sizes.trials))
        samples["jobs"].append(jobs_per_job(client, work, sizes.trials))
        samples["process"].append(process_per_trial(sizes.trials))
        samples["optuna_memory"].append(optuna_per_trial(sizes.trials, None))
        with tempfile.TemporaryDirectory() as tmp:
            samples["optuna_sqlite"].append(optuna_per_trial(sizes.trials, f"sqlite:///{tmp}/o.db"))
        samples["ours_tpe"].append(ours_in_process(sizes.trials, "bayesian"))
        samples["ours_random"].append(ours_in_process(sizes.trials, "{type: random, seed: 1}"))
    return samples


def report(samples: dict[str, list[float]], sizes: Sizes) -> list[str]:
    m = {k: median(v) for k, v in samples.items()}
    beyond = m["sweep"] - m["process"]

    def row(what: str, ours: float | None, anchor: float | None, anchor_text: str = "") -> tuple[str, ...]:
        ratio = f"{ours / anchor:.2f}" if ours is not None and anchor else ""
        shown = anchor_text or ("" if anchor is None else f"{anchor:.2f}")
        return (what, "" if ours is None else f"{ours:.2f}", shown, ratio)

    rows: list[tuple[str, ...]] = [
        ("measure (ms per trial, medians)", "Shipyard", "anchor", "ratio"),
        row("sweep on a server, beyond the trial's process", beyond, GOAL_MS, f"goal {GOAL_MS:.0f}"),
        row("sweep per trial / command job per job", m["sweep"], m["jobs"]),
        row("the trial's own process (`python -c pass`)", None, m["process"]),
        row("in-process step, TPE: ours (rebuilt) / Optuna in memory", m["ours_tpe"], m["optuna_memory"]),
        row("in-process step, TPE: ours (rebuilt) / Optuna + SQLite", m["ours_tpe"], m["optuna_sqlite"]),
        row("in-process step, random: ours (rebuilt)", m["ours_random"], None),
    ]
    verdict = "met" if beyond <= GOAL_MS else "NOT met"
    return [
        f"{sizes.trials} trials, {sizes.rounds} round(s)",
        "",
        *markdown_table(rows),
        "",
        f"goal: ≤ {GOAL_MS:.0f} ms per trial beyond its process: {verdict}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the server's home")
    args = parser.parse_args()
    sizes = Sizes(trials=10, rounds=1) if args.quick else Sizes(trials=args.trials, rounds=args.rounds)
    work = BENCH / "sweep_overhead"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    results: dict[str, Any] = run_header(sizes, args.quick)
    with Processes() as procs:
        server = start_shipyard(procs, sys.executable, work / "home", work / "shipyard.log", ROOT)
        client = Client(server.url, token=server.token)
        try:
            client.jobs.wait(
                client.jobs.create(_write(work, "warm.yml", f"command: {TRIAL}\n")).name, timeout_s=120
            )
            results["samples"] = measure(client, work, sizes)
        finally:
            client.close()
    lines = report(results["samples"], sizes)
    (BENCH / "sweep_overhead.json").write_text(json.dumps(results, indent=2))
    (BENCH / "sweep_overhead.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if not args.keep:
        shutil.rmtree(work / "home", ignore_errors=True)


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


if __name__ == "__main__":
    main()
