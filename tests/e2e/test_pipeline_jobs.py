"""Pipeline jobs against a real server: prep → train → evaluate, run again with nothing
changed (every step reused), with a parameter changed (exactly the steps it reaches re-run,
each saying why), and with input bytes that prep turns into the same output (prep re-runs,
the rest is reused: inputs are keyed on content)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from shipyard.client.client import Client
from shipyard.client.components import ComponentOperations
from shipyard.domain.jobs import Job
from tests.conftest import ADMIN_TOKEN, ServerProcess

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pipeline"


def _project(root: Path) -> Path:
    """A copy of examples/pipeline (docs/pipeline-jobs.md): its data changes in one test.
    A git repository, as a user's project is: each step's code carries git information."""
    shutil.copytree(EXAMPLE, root)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid", "-C", str(root)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "project"], check=True)
    return root / "pipeline.yml"


def _run(client: Client, path: Path, *overrides: str) -> tuple[Job, dict[str, Any], float]:
    started = time.monotonic()
    job = client.jobs.create(path, list(overrides))
    done = client.jobs.wait(job.name, poll_s=0.1, timeout_s=120)
    took = time.monotonic() - started
    assert done.status.value == "Completed", (done.status, done.report)
    return done, done.report["steps"], took


def test_steps_rerun_exactly_where_something_changed_and_say_why(
    server: ServerProcess, tmp_path: Path
) -> None:
    path = _project(tmp_path / "project")
    with Client(server.url, token=ADMIN_TOKEN) as client:
        first, steps, _ = _run(client, path)
        assert {s: steps[s]["why"] for s in steps} == {
            s: "no earlier run" for s in ("prep", "train", "evaluate")
        }
        assert first.report["outputs"]["report"].startswith("runs:/")
        children = {c.step: c for c in client.jobs.list(parent=first.name)}
        report_run = children["evaluate"].run_id
        assert first.report["outputs"]["report"] == f"runs:/{report_run}/outputs/report"

        # Nothing changed: every step is the earlier one (its run, not a copy), at once.
        again, steps, took = _run(client, path)
        assert {s: steps[s]["status"] for s in steps} == {
            "prep": "reused",
            "train": "reused",
            "evaluate": "reused",
        }
        assert steps["train"]["why"] == f"reused from {first.name}/train"
        reused = {c.step: c for c in client.jobs.list(parent=again.name)}
        assert reused["evaluate"].run_id == report_run
        assert took < 10, took

        # A parameter of train: train and what reads it run again, prep is reused.
        third, steps, _ = _run(client, path, "inputs.lr=0.7")
        assert steps["prep"]["status"] == "reused"
        assert steps["train"]["why"] == "changed: parameters.lr"
        assert steps["evaluate"]["why"] == "changed: inputs.model"

        # New bytes that prep cleans into the same file: prep runs, the rest is reused.
        (tmp_path / "project" / "data" / "raw.csv").write_text("1\n2\n3\n\n")
        _, steps, _ = _run(client, path, "inputs.lr=0.7")
        assert steps["prep"]["why"] == "changed: inputs.raw"
        assert steps["train"]["why"] == f"reused from {third.name}/train"
        assert steps["evaluate"]["status"] == "reused"


def test_a_registered_component_runs_as_a_step(server: ServerProcess, tmp_path: Path) -> None:
    path = _project(tmp_path / "project")
    with Client(server.url, token=ADMIN_TOKEN) as client:
        made = client.operations(ComponentOperations).create(tmp_path / "project" / "train.yml")
        assert (made.name, made.version) == ("train", "1") and made.code_digest
        text = path.read_text().replace("component: ./train.yml", "component: azureml:train@latest")
        path.write_text(text.replace("lr: 0.5", "lr: 0.25"))
        job, steps, _ = _run(client, path)
        train = next(c for c in client.jobs.list(parent=job.name) if c.step == "train")
        assert train.code_digest == made.code_digest  # the registered component's code
        assert {s: steps[s]["status"] for s in steps} == {
            "prep": "completed",
            "train": "completed",
            "evaluate": "completed",
        }
        assert [c.name for c in client.operations(ComponentOperations).list()] == ["train"]


BRANCHES = """\
type: pipeline
display_name: branches
settings:
  continue_on_step_failure: {go_on}
jobs:
  bad:
    command: python -c "import sys; sys.exit(3)"
    outputs:
      out: {{type: uri_folder}}
  after_bad:
    command: ls ${{{{inputs.x}}}}
    inputs:
      x: ${{{{parent.jobs.bad.outputs.out}}}}
  other:
    command: python -c "import time; time.sleep(1.5)"
"""


@pytest.mark.parametrize("go_on", [True, False])
def test_a_failed_step_skips_what_reads_it_and_stops_the_rest_unless_told_to_go_on(
    server: ServerProcess, tmp_path: Path, go_on: bool
) -> None:
    path = tmp_path / "branches.yml"
    path.write_text(BRANCHES.format(go_on=str(go_on).lower()))
    with Client(server.url, token=ADMIN_TOKEN) as client:
        job = client.jobs.wait(client.jobs.create(path).name, poll_s=0.1, timeout_s=120)
        assert job.status.value == "Failed"
        assert job.failure is not None and "step bad" in job.failure.message
        steps = job.report["steps"]
        assert steps["bad"]["status"] == "failed"
        assert steps["after_bad"] == {
            **steps["after_bad"],
            "status": "skipped",
            "why": "not run: step bad did not complete",
        }
        children = {c.step: c for c in client.jobs.list(parent=job.name)}
        assert children["other"].status.value == ("Completed" if go_on else "Canceled")
