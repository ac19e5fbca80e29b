"""Sweep jobs as a user runs them: a real server, a sweep file, trials that log their metric
step by step with mlflow — early termination stops the hopeless ones, the best trial is found."""

from __future__ import annotations

import json
import signal
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shipyard.client.client import Client
from shipyard.domain.jobs import JobStatus
from tests.conftest import ServerProcess
from tests.e2e.test_jobs import run_cli

slow = pytest.mark.slow

# acc climbs towards `quality`; a poor trial is visibly poor from its first steps.
TRAIN = textwrap.dedent(
    """
    import argparse
    import mlflow

    p = argparse.ArgumentParser()
    p.add_argument("--quality", type=float, required=True)
    p.add_argument("--mode", required=True)
    a = p.parse_args()
    for step in range(1, 7):
        mlflow.log_metric("acc", a.quality * step / 6, step=step)
    print("done", a.quality, a.mode)
    """
)

SWEEP = textwrap.dedent(
    """
    $schema: https://azuremlschemas.azureedge.net/latest/sweepJob.schema.json
    type: sweep
    trial:
      code: src
      command: >-
        python train.py --quality ${{search_space.quality}} --mode ${{search_space.mode}}
    sampling_algorithm:
      type: random
      seed: 7
    search_space:
      quality:
        type: choice
        values: [0.9, 0.1, 0.2, 0.95, 0.15, 0.3, 0.85, 0.05, 0.25, 0.8, 0.12, 0.7]
      mode:
        type: choice
        values: [fast, "slow and steady"]
    objective:
      goal: maximize
      primary_metric: acc
    early_termination:
      type: bandit
      slack_factor: 0.2
      evaluation_interval: 1
      delay_evaluation: 2
    limits:
      max_total_trials: 12
      max_concurrent_trials: 4
      trial_timeout: 120
    experiment_name: sweep-e2e
    """
)


@pytest.fixture
def clients() -> Iterator[Callable[[str], Client]]:
    made: list[Client] = []

    def make(url: str) -> Client:
        made.append(Client(url))
        return made[-1]

    yield make
    for client in made:
        client.close()


@pytest.fixture
def sweep_project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    (root / "src" / "train.py").write_text(TRAIN)
    (root / "sweep.yml").write_text(SWEEP)
    return root


@slow
def test_a_bandit_sweep_stops_hopeless_trials_and_reports_the_best(
    server: ServerProcess,
    sweep_project: Path,
    clients: Callable[[str], Client],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    done = run_cli(
        "job", "create", "-f", str(sweep_project / "sweep.yml"), "--output", "json", url=server.url
    )
    assert done.returncode == 0, done.stdout + done.stderr
    name = json.loads(done.stdout)["name"]
    client = clients(server.url)
    sweep = client.jobs.wait(name, poll_s=0.1, timeout_s=240)
    assert sweep.status is JobStatus.COMPLETED, (sweep.failure, sweep.report)

    report = sweep.report
    trials = {t["step"]: t for t in report["trials"]}
    assert len(trials) == 12
    children = {c.step: c for c in client.jobs.list(parent=name)}
    assert set(children) == set(trials)
    # Early termination stopped at least one trial, saying which rule at which step and why.
    stopped = [t for t in trials.values() if t["state"] == "stopped"]
    assert stopped, report
    for trial in stopped:
        assert trial["stopped_by"].startswith("stopped by bandit (slack_factor 0.2) at step ")
        assert " allowed (best " in trial["stopped_by"]
        assert children[trial["step"]].status is JobStatus.CANCELED
    # The best trial is the completed one with the highest final acc, and the sweep's run says so.
    completed = [t for t in trials.values() if t["state"] == "completed"]
    best = max(completed, key=lambda t: t["value"])
    assert report["best"]["trial"] == best["step"]
    assert report["best"]["params"]["quality"] == pytest.approx(best["value"])  # acc ends at quality
    assert report["best"]["params"]["quality"] >= max(t["params"]["quality"] for t in completed)
    # job show marks the best trial with its parameters, and says what stopped each stopped one.
    monkeypatch.setenv("COLUMNS", "250")  # rich wraps the table to the terminal's width
    shown = run_cli("job", "show", "-n", name, url=server.url)
    assert shown.returncode == 0, shown.stderr
    best_row = next(line for line in shown.stdout.splitlines() if f" {best['step']} " in line)
    assert "BEST acc = " in best_row and "quality=" in best_row, shown.stdout
    assert f"best: {best['step']}, acc = " in shown.stdout
    for trial in stopped:
        assert report["children"][trial["step"]].startswith("stopped by bandit (slack_factor 0.2) at step ")
    run = client.get_run(sweep.run_id)
    assert float(run.params["quality"]) == report["best"]["params"]["quality"]
    assert run.tags["shipyard.sweep.best_trial"] == best["step"]
    # Each trial is a child run of the sweep's run, with its parameters in its command (quoted).
    trial_job = client.jobs.get(children[best["step"]].name)
    assert f"--quality {best['params']['quality']}" in trial_job.command
    if best["params"]["mode"] != "fast":
        assert "--mode 'slow and steady'" in trial_job.command
    assert client.get_run(trial_job.run_id).tags["mlflow.parentRunId"] == sweep.run_id

    shown = run_cli("job", "show", "-n", name, url=server.url)
    assert shown.returncode == 0, shown.stderr
    assert best["step"] in shown.stdout


@slow
def test_a_sweep_whose_trials_log_no_metric_says_so(
    server: ServerProcess, sweep_project: Path, clients: Callable[[str], Client]
) -> None:
    path = sweep_project / "quiet.yml"
    path.write_text(
        SWEEP.replace("primary_metric: acc", "primary_metric: accuracy")
        .replace("max_total_trials: 12", "max_total_trials: 2")
        .replace("max_concurrent_trials: 4", "max_concurrent_trials: 2")
    )
    client = clients(server.url)
    job = client.jobs.create(path)
    sweep = client.jobs.wait(job.name, poll_s=0.1, timeout_s=120)
    assert sweep.status is JobStatus.FAILED
    assert sweep.failure is not None
    assert "no trial logged the primary metric 'accuracy'" in sweep.failure.message
    assert "2 completed" in sweep.failure.message
    assert sweep.report["best"] is None and "accuracy" in sweep.report["warning"]


@slow
def test_a_bad_sweep_file_is_refused_with_its_line(server: ServerProcess, sweep_project: Path) -> None:
    path = sweep_project / "bad.yml"
    path.write_text(SWEEP.replace("${{search_space.mode}}", "${{search_space.mood}}"))
    done = run_cli("job", "create", "-f", str(path), url=server.url)
    assert done.returncode != 0
    assert "bad.yml line 6" in done.stderr  # trial.command
    assert "${{search_space.mood}} in the trial command names no entry of the search space" in done.stderr
    quality = (
        "    type: choice\n    values: [0.9, 0.1, 0.2, 0.95, 0.15, 0.3, 0.85, 0.05, 0.25, 0.8, 0.12, 0.7]\n"
    )
    assert quality in SWEEP
    grid = SWEEP.replace("type: random\n  seed: 7", "type: grid").replace(
        quality, "    type: uniform\n    min_value: 0\n    max_value: 1\n"
    )
    path.write_text(grid)
    done = run_cli("job", "create", "-f", str(path), url=server.url)
    assert done.returncode != 0
    assert (
        "grid sampling takes choice entries only" in done.stderr and "'quality' is a uniform" in done.stderr
    )


RESTART_TRAIN = textwrap.dedent(
    """
    import os, sys, time
    import mlflow

    x = float(sys.argv[1])
    with open(os.environ["OUT"], "a") as out:
        out.write(f"{os.environ['SHIPYARD_JOB_NAME']} {x}\\n")
    time.sleep(1.0)
    mlflow.log_metric("score", x, step=1)
    """
)


def test_a_sweep_survives_its_server_being_killed(
    server_factory: Callable[..., ServerProcess], tmp_path: Path, clients: Callable[[str], Client]
) -> None:
    """kill -9 mid-sweep, start the server again on its home: the sweep goes on from the
    database (no second storage), every trial runs once, and it ends with the right best."""
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "train.py").write_text(RESTART_TRAIN)
    out = tmp_path / "ran.txt"
    (project / "sweep.yml").write_text(
        textwrap.dedent(
            f"""
            type: sweep
            trial:
              code: src
              command: python train.py ${{{{search_space.x}}}}
              environment_variables: {{OUT: "{out}"}}
            sampling_algorithm: {{type: random, seed: 3}}
            search_space:
              x: {{type: uniform, min_value: 0, max_value: 1}}
            objective: {{goal: maximize, primary_metric: score}}
            limits: {{max_total_trials: 8, max_concurrent_trials: 2}}
            """
        )
    )
    first = server_factory(home=tmp_path / "home")
    client = clients(first.url)
    name = client.jobs.create(project / "sweep.yml").name
    deadline = time.monotonic() + 60
    while len(client.jobs.list(parent=name)) < 3:
        assert time.monotonic() < deadline, "the sweep did not start its trials"
        time.sleep(0.1)
    first.stop(signal.SIGKILL)
    port = first.url.rsplit(":", 1)[1]  # the same address: running trials log to it
    again = server_factory(home=tmp_path / "home", args=["--port", port])
    sweep = clients(again.url).jobs.wait(name, poll_s=0.2, timeout_s=180)
    assert sweep.status is JobStatus.COMPLETED, (sweep.failure, sweep.report)
    ran = [line.split() for line in out.read_text().splitlines()]
    assert len(ran) == 8 and len({job for job, _ in ran}) == 8  # each trial ran once
    values = {float(x) for _, x in ran}
    assert len(values) == 8  # eight different draws: none repeated after the restart
    assert sweep.report["best"]["params"]["x"] == pytest.approx(max(values))
