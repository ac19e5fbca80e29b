"""``shipyard ci compare`` as a CI step runs it: a real server (sign-in on), two runs logged by
the unchanged ``mlflow`` client with a known difference and their git commits, a model alias
pointing at the baseline — the exact table, the exit statuses under a passing and a failing
policy, and a clear refusal (status 2) for what does not exist."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ServerProcess

pytestmark = pytest.mark.slow

START = 1_700_000_000_000  # ms; the runs' end times make their runtimes exact
CANDIDATE = {"train_loss": 0.366, "val_loss": 0.534, "acc": 0.862, "val_acc": 0.796}
BASELINE = {"train_loss": 0.392, "val_loss": 0.527, "acc": 0.851, "val_acc": 0.798}


@dataclass
class World:
    url: str
    folder: Path
    candidate: str
    baseline: str
    experiment: str


def _log(client: object, experiment: str, metrics: dict[str, float], commit: str, runtime_ms: int) -> str:
    from mlflow import MlflowClient

    assert isinstance(client, MlflowClient)
    run = client.create_run(experiment, start_time=START, tags={"mlflow.source.git.commit": commit})
    for step, scale in enumerate((1.5, 1.0)):  # the latest step is the value compared
        for key, value in metrics.items():
            client.log_metric(run.info.run_id, key, value * scale, step=step, timestamp=START + step)
    client.set_terminated(run.info.run_id, end_time=START + runtime_ms)
    return str(run.info.run_id)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    mlflow = pytest.importorskip("mlflow")
    from mlflow import MlflowClient

    folder = tmp_path_factory.mktemp("ci")
    server = ServerProcess(folder / "home").start()
    saved = {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_")}
    try:
        mlflow.set_tracking_uri(server.url)
        client = MlflowClient(server.url)
        experiment = client.create_experiment("embeddings")
        candidate = _log(client, experiment, CANDIDATE, "5287272e0c4d1b", 542_478)
        baseline = _log(client, experiment, BASELINE, "0f6e4ae9d8a1c2", 577_173)
        client.create_registered_model("clf")
        version = client.create_model_version("clf", f"runs:/{baseline}/model", run_id=baseline)
        client.set_registered_model_alias("clf", "champion", version.version)
        yield World(server.url, folder, candidate, baseline, experiment)
    finally:
        mlflow.set_tracking_uri(None)
        for key in [k for k in os.environ if k.startswith("MLFLOW_")]:
            if key not in saved:
                del os.environ[key]
        server.stop()


def ci(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SHIPYARD_URL", "SHIPYARD_WORKSPACE")}
    return subprocess.run(
        [sys.executable, "-m", "shipyard", "ci", "compare", *args],
        capture_output=True, text=True, timeout=60, check=False,
        env={**env, "SHIPYARD_URL": world.url}, cwd=world.folder,
    )  # fmt: skip


def policy(world: World, name: str, text: str) -> str:
    path = world.folder / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_the_table_shows_both_runs_and_the_deltas(world: World) -> None:
    done = ci(world, "--candidate", world.candidate, "--baseline", world.baseline,
              "--metrics", "train_loss,val_loss,acc,val_acc")  # fmt: skip
    assert done.returncode == 0, done.stderr
    # The table's rule under the header is drawn, not data.
    lines = [line.split() for line in done.stdout.splitlines() if not line.startswith("─")]
    assert lines[:4] == [
        ["Category", "Run", "ID", "SHA", "train_loss", "val_loss", "acc", "val_acc", "Runtime"],
        ["candidate", world.candidate, "5287272", "0.366", "0.534", "0.862", "0.796", "542.478"],
        ["baseline", world.baseline, "0f6e4ae", "0.392", "0.527", "0.851", "0.798", "577.173"],
        ["delta", "-0.026", "(-6.63%)", "+0.007", "(+1.33%)", "+0.011", "(+1.29%)", "-0.002", "(-0.25%)",
         "-34.695", "(-6.01%)"],
    ]  # fmt: skip
    studio = f"{world.url}/studio/experiments/{world.experiment}/runs"
    assert f"candidate: {studio}/{world.candidate}" in done.stdout
    assert f"baseline: {studio}/{world.baseline}" in done.stdout
    assert "no policy: nothing gated" in done.stdout


def test_the_markdown_report_through_the_champion_alias(world: World) -> None:
    done = ci(world, "--candidate", world.candidate, "--baseline", "model:clf@champion",
              "--metrics", "val_loss,val_acc", "--format", "markdown")  # fmt: skip
    assert done.returncode == 0, done.stderr
    studio = f"{world.url}/studio/experiments/{world.experiment}/runs"
    assert done.stdout == (
        "| Category | Run ID | SHA | val_loss | val_acc | Runtime |\n"
        "|---|---|---|---|---|---|\n"
        f"| candidate | [{world.candidate[:8]}]({studio}/{world.candidate}) | 5287272 | 0.534 | 0.796 | 542.478 |\n"
        f"| baseline | [{world.baseline[:8]}]({studio}/{world.baseline}) | 0f6e4ae | 0.527 | 0.798 | 577.173 |\n"
        "| delta |  |  | +0.007 (+1.33%) | -0.002 (-0.25%) | -34.695 (-6.01%) |\n"
        "\n"
        "**no policy: nothing gated**\n"
    )


def test_a_passing_policy_exits_0(world: World) -> None:
    gate = policy(
        world,
        "pass.yml",
        "metrics:\n"
        "  acc: {greater_is_better: true, threshold: 0.85, min_absolute_change: 0.01}\n"
        "  train_loss: {greater_is_better: false, min_relative_change: 0.05}\n",
    )
    done = ci(world, "--candidate", world.candidate, "--baseline", "model:clf:1", "--policy", gate,
              "--format", "json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["metrics"] == ["acc", "train_loss"]
    assert report["passed"] is True
    assert [(r["metric"], r["rule"], r["passed"]) for r in report["policy"]["rules"]] == [
        ("acc", "threshold", True),
        ("acc", "min_absolute_change", True),
        ("train_loss", "min_relative_change", True),
    ]
    assert report["baseline"]["run_id"] == world.baseline
    assert report["candidate"]["commit"] == "5287272e0c4d1b"


def test_a_failing_policy_exits_1_and_lists_every_failed_rule(world: World) -> None:
    gate = policy(
        world,
        "fail.yml",
        "metrics:\n"
        "  val_acc: {greater_is_better: true, threshold: 0.8, min_absolute_change: 0.001}\n"
        "  val_loss: {greater_is_better: false, min_relative_change: 0.01}\n"
        "  acc: {greater_is_better: true, threshold: 0.5}\n"
        "  f1: {greater_is_better: true, threshold: 0.5}\n",
    )
    done = ci(world, "--candidate", world.candidate, "--baseline", world.baseline, "--policy", gate)
    assert done.returncode == 1, done.stderr
    verdict = done.stdout.splitlines()
    failed = [line for line in verdict if line.startswith("❌")]
    assert failed == [
        f"❌ policy failed ({gate}): 4 of 5 rules failed",
        "❌ val_acc threshold: wanted >= 0.8; candidate 0.796",
        "❌ val_acc min_absolute_change: wanted at least 0.001 above the baseline; candidate 0.796, baseline 0.798",
        "❌ val_loss min_relative_change: wanted at least 1% below the baseline; candidate 0.534, baseline 0.527",
        "❌ f1 threshold: wanted >= 0.5; missing on the candidate",
    ]
    assert "✅ acc threshold: wanted >= 0.5; candidate 0.862" in verdict
    assert f"missing on the candidate ({world.candidate}): f1" in verdict
    # The metric neither run has shows as a dash, not a crash.
    assert ["candidate", world.candidate, "5287272", "0.796", "0.534", "0.862", "—", "542.478"] in [
        line.split() for line in verdict
    ]


def test_unknown_runs_aliases_and_bad_policies_exit_2(world: World) -> None:
    cases = {
        ("--candidate", "no-such-run", "--baseline", world.baseline):
            "--candidate no-such-run: no run with this id and no job with this name",
        ("--candidate", world.candidate, "--baseline", "model:clf@chamption"):
            "--baseline model:clf@chamption: model 'clf' has no alias 'chamption'",
        ("--candidate", world.candidate, "--baseline", "model:nope@champion"):
            "--baseline model:nope@champion:",
        ("--candidate", world.candidate, "--baseline", "f" * 32):
            f"--baseline {'f' * 32}:",
        ("--candidate", world.candidate, "--baseline", "model:clf"):
            "--baseline model:clf: write model:NAME@ALIAS or model:NAME:VERSION",
        ("--candidate", world.candidate, "--baseline", world.baseline,
         "--policy", policy(world, "bad.yml", "metrics:\n  acc: {min_absolute_change: 0.1}\n")):
            "bad.yml line 2: field 'metrics.acc': greater_is_better is required",
    }  # fmt: skip
    for args, said in cases.items():
        done = ci(world, *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert said in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr
        assert done.stdout == ""


def test_a_job_name_as_the_candidate_means_its_run(world: World) -> None:
    (world.folder / "job.yml").write_text('command: python -c "print(1)"\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("SHIPYARD_URL", "SHIPYARD_WORKSPACE")}
    created = subprocess.run(
        [sys.executable, "-m", "shipyard", "job", "create", "-f", "job.yml", "--name", "pr-7-train", "--stream"],
        capture_output=True, text=True, timeout=60, check=False,
        env={**env, "SHIPYARD_URL": world.url}, cwd=world.folder,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    from shipyard.client.client import Client

    with Client(world.url) as client:
        job_run = client.jobs.get("pr-7-train").run_id
    done = ci(world, "--candidate", "pr-7-train", "--baseline", world.baseline, "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["candidate"]["ref"] == "pr-7-train"
    assert report["candidate"]["run_id"] == job_run
    # The job logged no metrics: none in common, so none shown, and nothing crashes.
    assert report["metrics"] == []
