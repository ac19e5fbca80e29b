"""What only the ``local`` target does: its FIFO queue and slots, re-attaching after a
server restart, killing processes that left the job's session, the environment it builds."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.compute.local import LocalTarget
from shipyard.compute.registry import known_kinds, open_target
from shipyard.errors import InvalidArgument
from shipyard.services.compute import ComputeConfig, Submission, TargetState

from ._helpers import all_logs, gone, kill_leftovers, wait_ended, wait_file, wait_running, wait_status

PY = sys.executable


@pytest.fixture
def code(tmp_path: Path) -> Path:
    folder = tmp_path / "code"
    folder.mkdir()
    return folder


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def targets(state: Path) -> Iterator[list[LocalTarget]]:
    """Targets a test opens; closed, and their jobs killed, at the end even when it fails."""
    opened: list[LocalTarget] = []
    yield opened
    for target in opened:
        target.close()
    kill_leftovers(state)


def _open(targets: list[LocalTarget], state: Path, slots: int = 1, **kw: object) -> LocalTarget:
    target = LocalTarget(state, slots, kill_grace_s=2, **kw)  # type: ignore[arg-type]
    targets.append(target)
    return target


def _gated(gate: Path, job: str) -> str:
    """A command that says it started, then waits until ``gate`` exists."""
    return f"echo {job} started; while [ ! -e {gate} ]; do sleep 0.02; done; echo {job} done"


def test_jobs_start_in_submission_order(targets: list[LocalTarget], state: Path, code: Path) -> None:
    target = _open(targets, state, slots=1)
    order = code / "order"
    jobs = [f"fifo-{i}" for i in range(6)]
    for job in jobs:
        target.submit(Submission(job, f"echo {job} >> {order}", working_dir=code))
    for job in jobs:
        assert wait_ended(target, job).state is TargetState.SUCCEEDED
    assert order.read_text().split() == jobs


def test_a_third_job_waits_queued_until_one_of_two_slots_frees(
    targets: list[LocalTarget], state: Path, code: Path
) -> None:
    target = _open(targets, state, slots=2)
    for job in ("a", "b", "c"):
        target.submit(Submission(job, _gated(code / f"gate-{job}", job), working_dir=code))
    wait_running(target, "a")
    wait_running(target, "b")
    time.sleep(0.3)
    assert target.status("c").state is TargetState.QUEUED
    assert target.logs("c").data == b""
    (code / "gate-b").touch()
    assert wait_ended(target, "b").state is TargetState.SUCCEEDED
    wait_running(target, "c")
    assert target.status("a").state is TargetState.RUNNING
    (code / "gate-a").touch()
    (code / "gate-c").touch()
    assert wait_ended(target, "c").state is TargetState.SUCCEEDED


def test_a_job_runs_within_milliseconds_of_a_free_slot(
    targets: list[LocalTarget], state: Path, code: Path
) -> None:
    target = _open(targets, state, slots=1)
    latencies = []
    for i in range(10):
        job = f"latency-{i}"
        started = time.perf_counter()
        target.submit(Submission(job, "true", working_dir=code))
        while target.status(job).state is TargetState.QUEUED:  # polled tightly: the wait is measured
            time.sleep(0.0005)
        latencies.append(time.perf_counter() - started)
        wait_ended(target, job)
    latencies.sort()
    print(f"\nlocal queued→running: median {latencies[5] * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms")


def test_a_running_job_survives_a_restart_and_is_reattached(
    targets: list[LocalTarget], state: Path, code: Path
) -> None:
    first = _open(targets, state, slots=1)
    first.submit(Submission("long", _gated(code / "gate", "long"), working_dir=code))
    first.submit(Submission("next", "echo next ran", working_dir=code))
    wait_running(first, "long")
    first.close()  # the server stops; its jobs' processes do not

    second = _open(targets, state, slots=1)
    assert second.status("long").state is TargetState.RUNNING
    assert second.status("next").state is TargetState.QUEUED
    (code / "gate").touch()
    assert wait_ended(second, "long").state is TargetState.SUCCEEDED
    assert all_logs(second, "long") == b"long started\nlong done\n"
    assert wait_ended(second, "next").state is TargetState.SUCCEEDED
    assert all_logs(second, "next") == b"next ran\n"


def test_a_restarted_target_cancels_a_reattached_job_with_its_tree(
    targets: list[LocalTarget], state: Path, code: Path
) -> None:
    first = _open(targets, state)
    first.submit(Submission("orphan", f"sleep 1000 & echo $! > {code}/child.pid; wait", working_dir=code))
    wait_running(first, "orphan")
    child = int(wait_file(code / "child.pid"))
    first.close()
    second = _open(targets, state)
    second.cancel("orphan", "after the restart")
    status = wait_ended(second, "orphan")
    assert (status.state, status.message) == (TargetState.CANCELED, "canceled: after the restart")
    assert gone(child)


def test_a_job_whose_supervisor_died_during_a_restart_is_lost_and_its_command_killed(
    targets: list[LocalTarget], state: Path, code: Path
) -> None:
    first = _open(targets, state)
    first.submit(Submission("doomed", f"echo $$ > {code}/shell.pid; sleep 1000", working_dir=code))
    wait_running(first, "doomed")
    shell = int(wait_file(code / "shell.pid"))
    first.close()
    supervisor = json.loads((state / "doomed" / "process.json").read_text())["pid"]
    os.kill(supervisor, signal.SIGKILL)
    assert gone(supervisor)

    second = _open(targets, state)
    status = second.status("doomed")
    assert status.state is TargetState.LOST
    assert status.message == "process lost: the server restarted and the process is gone"
    assert gone(shell), "the lost job's command was left running"


def test_cancel_also_kills_a_grandchild_that_left_the_session(
    targets: list[LocalTarget], state: Path, code: Path
) -> None:
    target = _open(targets, state)
    spawn = (
        "import subprocess, sys, time\n"
        "p = subprocess.Popen(['sleep', '1000'], start_new_session=True)\n"
        f"open({str(code / 'escaped.pid')!r}, 'w').write(str(p.pid))\n"
        "time.sleep(1000)\n"
    )
    (code / "spawn.py").write_text(spawn)
    target.submit(Submission("escape", f"{PY} spawn.py", working_dir=code))
    escaped = int(wait_file(code / "escaped.pid"))
    assert os.getsid(escaped) != os.getsid(0)
    target.cancel("escape", "test")
    assert wait_ended(target, "escape").state is TargetState.CANCELED
    assert gone(escaped, timeout=1), "a process that left the job's session survived the cancel"


def test_a_job_that_ignores_sigterm_is_killed_after_the_grace_period(
    targets: list[LocalTarget], state: Path, code: Path
) -> None:
    target = _open(targets, state)
    target.submit(Submission("stubborn", "trap '' TERM; echo ready; sleep 1000", working_dir=code))
    wait_status(target, "stubborn", lambda s: b"ready" in target.logs("stubborn").data)
    started = time.monotonic()
    target.cancel("stubborn", "test")
    assert wait_ended(target, "stubborn").state is TargetState.CANCELED
    assert 1.5 <= time.monotonic() - started < 10  # kill_grace_s=2


def test_the_environment_is_clean_but_for_the_passthrough(
    targets: list[LocalTarget], state: Path, code: Path, tmp_path: Path
) -> None:
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    (tmp_path / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    server_env = {"PATH": os.environ["PATH"], "HOME": "/home/server", "LC_ALL": "C.UTF-8"}
    server_env |= {"SHIPYARD_DATABASE_URL": "postgresql://user:secret@db/x", "AWS_SECRET_ACCESS_KEY": "k"}
    target = _open(targets, state, server_env=server_env)
    sub = Submission("env", "env", working_dir=code, env={"MLFLOW_RUN_ID": "r1"}, python_bin_dir=venv_bin)
    target.submit(sub)
    assert wait_ended(target, "env").state is TargetState.SUCCEEDED
    lines = all_logs(target, "env").decode().splitlines()
    env = dict(line.split("=", 1) for line in lines if "=" in line)
    assert env["HOME"] == "/home/server"
    assert env["LC_ALL"] == "C.UTF-8"
    assert env["MLFLOW_RUN_ID"] == "r1"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["PATH"].split(os.pathsep)[0] == str(venv_bin)
    assert env["VIRTUAL_ENV"] == str(venv_bin.parent)
    assert "SHIPYARD_DATABASE_URL" not in env
    assert "AWS_SECRET_ACCESS_KEY" not in env


def test_a_missing_working_dir_and_a_bad_job_id_are_refused(
    targets: list[LocalTarget], state: Path, code: Path
) -> None:
    target = _open(targets, state)
    with pytest.raises(InvalidArgument, match="does not exist"):
        target.submit(Submission("j", "true", working_dir=code / "missing"))
    with pytest.raises(InvalidArgument, match="job id"):
        Submission("../escape", "true", working_dir=code)
    with pytest.raises(InvalidArgument, match="command"):
        Submission("j", "  ", working_dir=code)


def test_the_registry_opens_targets_by_kind(state: Path) -> None:
    assert {"local", "ray"} <= set(known_kinds())
    target = open_target(ComputeConfig(kind="local", name="cpu", max_concurrent=3), state)
    try:
        assert isinstance(target, LocalTarget)
        assert "reattach" in target.capabilities
    finally:
        target.close()
    with pytest.raises(InvalidArgument, match="unknown compute kind 'slurm'; known kinds: local, ray"):
        open_target(ComputeConfig(kind="slurm", name="hpc"), state)
    with pytest.raises(InvalidArgument, match="needs an address"):
        open_target(ComputeConfig(kind="ray", name="cluster"), state)


def test_a_job_that_ended_while_the_server_was_down_keeps_its_result(
    targets: list[LocalTarget], state: Path, code: Path
) -> None:
    first = _open(targets, state)
    first.submit(Submission("quick", _gated(code / "gate", "quick") + "; exit 4", working_dir=code))
    wait_running(first, "quick")
    first.close()
    (code / "gate").touch()
    wait_file(state / "quick" / "exit.json")
    second = _open(targets, state)
    status = second.status("quick")
    assert (status.state, status.exit_code, status.message) == (TargetState.FAILED, 4, "exit code 4")
    assert all_logs(second, "quick") == b"quick started\nquick done\n"


def test_a_command_killed_by_a_signal_says_which(targets: list[LocalTarget], state: Path, code: Path) -> None:
    target = _open(targets, state)
    target.submit(Submission("killed", "kill -KILL $$", working_dir=code))
    status = wait_ended(target, "killed")
    assert (status.state, status.message) == (TargetState.FAILED, "killed by signal SIGKILL")


class FakeTarget(LocalTarget):
    kind = "fake"


def test_a_plugin_registers_through_the_entry_point_group(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shipyard.compute import registry

    monkeypatch.setattr(registry, "_plugins", lambda: {"fake": f"{__name__}:FakeTarget"})
    assert "fake" in registry.known_kinds()
    target = open_target(ComputeConfig(kind="fake", name="f"), state)
    try:
        assert isinstance(target, FakeTarget)
    finally:
        target.close()


def test_ray_without_ray_installed_says_which_extra_to_install(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray.job_submission", None)  # makes the import fail
    config = ComputeConfig(kind="ray", name="cluster", address="http://127.0.0.1:1")
    with pytest.raises(InvalidArgument, match=r"pip install 'shipyard\[ray\]'"):
        open_target(config, state)
