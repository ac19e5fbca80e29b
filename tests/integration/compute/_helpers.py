"""Waiting on a target's job, and checking that processes are gone."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from shipyard.services.compute import ComputeTarget, TargetState, TargetStatus


def wait_status(
    target: ComputeTarget, job_id: str, until: Callable[[TargetStatus], bool], timeout: float = 60.0
) -> TargetStatus:
    deadline = time.monotonic() + timeout
    while True:
        status = target.status(job_id)
        if until(status):
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} stuck at {status}")
        time.sleep(0.02)


def wait_ended(target: ComputeTarget, job_id: str, timeout: float = 60.0) -> TargetStatus:
    return wait_status(target, job_id, lambda s: s.state.terminal, timeout)


def wait_running(target: ComputeTarget, job_id: str, timeout: float = 60.0) -> TargetStatus:
    status = wait_status(
        target, job_id, lambda s: s.state is TargetState.RUNNING or s.state.terminal, timeout
    )
    assert status.state is TargetState.RUNNING, status
    return status


def wait_file(path: Path, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text().strip()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} never appeared")
        time.sleep(0.02)
    return path.read_text().strip()


def all_logs(target: ComputeTarget, job_id: str) -> bytes:
    out, offset = b"", 0
    while True:
        chunk = target.logs(job_id, offset, limit=7)  # small: exercises paging
        out += chunk.data
        offset = chunk.next_offset
        if chunk.complete:
            return out
        if not chunk.data:
            time.sleep(0.02)


def gone(pid: int, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def kill_leftovers(state_dir: Path) -> None:
    """Kill every local job still running under ``state_dir``: a failed test must not leave
    processes behind (closing a target deliberately leaves its jobs running)."""
    from shipyard.compute._tree import kill_tree

    for process_file in state_dir.glob("*/process.json"):
        process = json.loads(process_file.read_text())
        kill_tree(process["pid"], process["create_time"], grace_s=0.0)
