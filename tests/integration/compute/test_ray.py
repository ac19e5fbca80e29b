"""What only the ``ray`` target does: a new target (a restarted server) takes over the
jobs an earlier one submitted, with the reasons it recorded."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from shipyard.compute.ray import RayTarget
from shipyard.services.compute import Submission, TargetState

from ._helpers import wait_ended, wait_running, wait_status

pytestmark = pytest.mark.slow


def test_a_restarted_target_reports_on_and_cancels_an_earlier_targets_job(
    ray_address: str, tmp_path: Path
) -> None:
    job, code = f"ray-{uuid.uuid4().hex[:12]}", tmp_path / "code"
    code.mkdir()
    first = RayTarget(ray_address, tmp_path / "state")
    started = time.perf_counter()
    first.submit(Submission(job, "echo started; sleep 1000", working_dir=code, timeout_s=600))
    wait_running(first, job)
    print(f"\nray queued→running: {(time.perf_counter() - started) * 1000:.0f} ms")
    first.close()

    second = RayTarget(ray_address, tmp_path / "state")
    try:
        assert second.status(job).state is TargetState.RUNNING
        wait_status(second, job, lambda s: b"started" in second.logs(job).data)
        second.cancel(job, "by bob")
        status = wait_ended(second, job)
        assert (status.state, status.message) == (TargetState.CANCELED, "canceled: by bob")
        third = RayTarget(ray_address, tmp_path / "state")
        assert third.status(job).message == "canceled: by bob"
        third.close()
    finally:
        second.close()
