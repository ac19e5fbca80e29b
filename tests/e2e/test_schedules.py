"""Schedules against real servers: a 2-second cron fires jobs that run, and two servers on one
PostgreSQL database fire each tick exactly once between them."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest

from shipyard.client.client import Client
from shipyard.client.schedules import ScheduleOperations
from tests.conftest import ADMIN_TOKEN, AUTH, ServerProcess

pytestmark = pytest.mark.slow


def _files(tmp_path: Path, name: str, expression: str = "*/2 * * * * *") -> Path:
    (tmp_path / "job.yml").write_text("command: echo tick $SHIPYARD_JOB_NAME\nexperiment_name: scheduled\n")
    schedule = tmp_path / f"{name}.yml"
    schedule.write_text(
        f"name: {name}\ntrigger:\n  type: cron\n  expression: '{expression}'\ncreate_job: ./job.yml\n"
    )
    return schedule


def _wait(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_short_cron_fires_jobs_that_run_as_the_creator(server: ServerProcess, tmp_path: Path) -> None:
    with Client(server.url, token=ADMIN_TOKEN) as client:
        ops = client.operations(ScheduleOperations)
        made = ops.create(_files(tmp_path, "every2s"))
        assert made.trigger["expression"] == "*/2 * * * * *" and made.enabled
        fired = _wait(
            lambda: [f for f in ops.get("every2s").firings if f.status == "fired"][1:], 20, "two firings"
        )
        job = client.jobs.wait(fired[0].job_name, timeout_s=60)
        assert job.status.value == "Completed"
        assert job.spec["tags"]["shipyard.schedule.name"] == "every2s"
        assert job.created_by == "admin"
        ops.disable("every2s")
        settled = len(ops.get("every2s", firings=100).firings)
        time.sleep(2.5)  # a tick passes while disabled: nothing fires
        assert len(ops.get("every2s", firings=100).firings) == settled
        assert ops.get("every2s").next_ticks == []
        ops.delete("every2s")
        assert ops.list() == []


@pytest.mark.postgres
def test_two_servers_on_one_postgresql_fire_each_tick_once(
    server_factory: Callable[..., ServerProcess], pg_database_url: str, tmp_path: Path
) -> None:
    shared = {"SHIPYARD_SECRET_KEY": base64.urlsafe_b64encode(b"s" * 32).decode()}
    args = ["--database-url", pg_database_url, "--artifacts", str(tmp_path / "artifacts")]
    a = server_factory(home=tmp_path / "a", args=args, env=shared)
    b = server_factory(home=tmp_path / "b", args=args, env=shared)
    with Client(a.url, token=ADMIN_TOKEN) as client:
        ops = client.operations(ScheduleOperations)
        ops.create(_files(tmp_path, "shared"))

        def six() -> list[Any] | None:
            found = ops.get("shared", firings=100).firings
            return found if len(found) >= 6 else None

        firings = _wait(six, 30, "6 ticks")
        ops.disable("shared")
    ticks = [f.tick_at for f in firings]
    assert len(ticks) == len(set(ticks))
    assert all(later - earlier == 2000 for later, earlier in pairwise(ticks))  # none skipped
    names = [f.job_name for f in firings if f.status == "fired"]
    jobs = httpx.get(f"{b.url}/api/v1/jobs", params={"max_results": 1000}, headers=AUTH, timeout=30).json()[
        "jobs"
    ]
    fired_jobs = [j["name"] for j in jobs if j["name"].startswith("shared-")]
    assert sorted(fired_jobs) == sorted(set(fired_jobs))  # no job twice
    assert set(names) <= set(fired_jobs)


def test_a_schedule_fires_a_pipeline_from_a_git_project(server: ServerProcess, tmp_path: Path) -> None:
    """A composite job goes through the same submit path: its steps uploaded once, at create."""
    import shutil
    import subprocess

    project = tmp_path / "project"
    shutil.copytree(Path(__file__).resolve().parents[2] / "examples" / "pipeline", project)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-C", str(project)]
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "p"]):
        subprocess.run([*git, *args], check=True)
    schedule = project / "nightly.yml"
    schedule.write_text(
        "name: nightly-pipeline\ntrigger:\n  type: cron\n  expression: '*/2 * * * * *'\n"
        "create_job: ./pipeline.yml\n"
    )
    with Client(server.url, token=ADMIN_TOKEN) as client:
        ops = client.operations(ScheduleOperations)
        ops.create(schedule)
        fired = _wait(
            lambda: [f for f in ops.get("nightly-pipeline").firings if f.status == "fired"], 20, "a firing"
        )
        ops.disable("nightly-pipeline")
        job = client.jobs.wait(fired[0].job_name, timeout_s=120)
        assert job.type == "pipeline" and job.status.value == "Completed", (job.failure, job.report)
        assert {c.step for c in client.jobs.list(parent=job.name)} == {"prep", "train", "evaluate"}
        ops.delete("nightly-pipeline")
