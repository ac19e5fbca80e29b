"""The compute target contract, one class run against every implementation.

``local`` runs on every test run; ``ray`` needs a real Ray head (``ray_address``, started
once per session) and is marked slow.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.compute.registry import open_target
from shipyard.errors import NotFound
from shipyard.services.compute import ComputeConfig, ComputeTarget, Submission, TargetState

from ._helpers import all_logs, gone, kill_leftovers, wait_ended, wait_file, wait_running

PY = sys.executable


@pytest.fixture(params=["local", pytest.param("ray", marks=pytest.mark.slow)])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ComputeTarget]:
    if request.param == "local":
        config = ComputeConfig(kind="local", name="cpu", max_concurrent=2, options={"kill_grace_s": 2})
    else:
        address = request.getfixturevalue("ray_address")
        config = ComputeConfig(kind="ray", name="cluster", address=address)
    opened = open_target(config, tmp_path / "state")
    yield opened
    opened.close()
    kill_leftovers(tmp_path / "state")  # local jobs a failed test left running


@pytest.fixture
def code(tmp_path: Path) -> Path:
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "marker.txt").write_text("from the snapshot\n")
    return folder


def _id() -> str:
    return f"job-{uuid.uuid4().hex[:12]}"


class TestComputeTarget:
    def test_a_command_that_exits_0_succeeds_with_its_output_in_the_logs(
        self, target: ComputeTarget, code: Path
    ) -> None:
        job = _id()
        target.submit(Submission(job, "echo hello from the job; echo on stderr >&2", working_dir=code))
        status = wait_ended(target, job)
        assert status.state is TargetState.SUCCEEDED, status
        assert status.exit_code == 0
        assert status.started_at is not None
        assert status.ended_at is not None
        assert status.started_at <= status.ended_at
        logs = all_logs(target, job)
        assert b"hello from the job\n" in logs
        assert b"on stderr\n" in logs

    def test_a_nonzero_exit_fails_naming_the_exit_code(self, target: ComputeTarget, code: Path) -> None:
        job = _id()
        target.submit(Submission(job, "echo about to fail; exit 3", working_dir=code))
        status = wait_ended(target, job)
        assert status.state is TargetState.FAILED
        assert status.exit_code == 3
        assert "exit code 3" in status.message
        assert b"about to fail" in all_logs(target, job)

    def test_env_vars_reach_the_process_and_working_dir_is_its_cwd(
        self, target: ComputeTarget, code: Path
    ) -> None:
        job = _id()
        command = (
            'echo "C=$LEARNING_RATE"; cat marker.txt; ' + PY + " -c 'import os; print(os.environ[\"A_B\"])'"
        )
        target.submit(Submission(job, command, working_dir=code, env={"LEARNING_RATE": "0.5", "A_B": "x y"}))
        assert wait_ended(target, job).state is TargetState.SUCCEEDED
        logs = all_logs(target, job)
        assert b"C=0.5\n" in logs
        assert b"from the snapshot\n" in logs
        assert b"x y\n" in logs

    def test_a_second_submit_of_the_same_job_id_is_a_no_op(
        self, target: ComputeTarget, code: Path, tmp_path: Path
    ) -> None:
        job, count = _id(), tmp_path / "count"
        sub = Submission(job, f"echo ran >> {count}", working_dir=code)
        target.submit(sub)
        target.submit(sub)
        assert wait_ended(target, job).state is TargetState.SUCCEEDED
        target.submit(sub)
        assert wait_ended(target, job).state is TargetState.SUCCEEDED
        assert count.read_text() == "ran\n"

    def test_cancel_stops_a_running_job_and_its_whole_process_tree(
        self, target: ComputeTarget, code: Path, tmp_path: Path
    ) -> None:
        job = _id()
        child = tmp_path / "child.pid"
        command = f"sleep 1000 & echo $! > {child}; echo started; wait"
        target.submit(Submission(job, command, working_dir=code))
        wait_running(target, job)
        pid = int(wait_file(child))
        target.cancel(job, "by alice")
        target.cancel(job, "by alice, again")
        status = wait_ended(target, job)
        assert status.state is TargetState.CANCELED
        assert status.message == "canceled: by alice"
        assert gone(pid), "the command's background child survived the cancel"
        target.cancel(job, "after the end")
        assert target.status(job).message == "canceled: by alice"

    def test_an_unknown_job_id_is_not_found(self, target: ComputeTarget) -> None:
        with pytest.raises(NotFound):
            target.status("no-such-job")
        with pytest.raises(NotFound):
            target.logs("no-such-job")
        with pytest.raises(NotFound):
            target.cancel("no-such-job", "why not")

    def test_a_job_past_its_timeout_fails_with_the_reason(self, target: ComputeTarget, code: Path) -> None:
        job = _id()
        target.submit(Submission(job, "echo waiting; sleep 1000", working_dir=code, timeout_s=2))
        status = wait_ended(target, job)
        assert status.state is TargetState.FAILED
        assert status.message == "timed out after 2 s"
        assert b"waiting" in all_logs(target, job)
