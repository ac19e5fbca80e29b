"""Several servers' job runners on one database (each backend in turn), in-process: the real
services, stores, local compute target and processes, with each "server" an app built by
``create_app`` on a home of its own and one shared artifact folder.

A server "stops" here by stopping its runner: its leases stay in the database, as after a
crash, and its local target lets go of its processes' locks, as a dead process would.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shipyard.domain.access import EVERYTHING
from shipyard.domain.context import Principal, RequestContext
from shipyard.domain.jobs import TERMINAL, FailureCause, Job, JobStatus
from shipyard.server.app import create_app
from shipyard.server.jobs_runtime import JobsRuntime
from shipyard.services.job_runner import RunnerNode
from shipyard.services.jobs import JobService, JobSubmission
from shipyard.settings import Settings
from tests.conftest import ADMIN_TOKEN

ADMIN = RequestContext(Principal("admin", authenticated=True, grants=EVERYTHING), "default")
LEASE_S = 2.0


@dataclass
class Server:
    runtime: JobsRuntime
    home: Path

    @property
    def jobs(self) -> JobService:
        return self.runtime.jobs


@pytest.fixture
def servers(database_url: str, tmp_path: Path) -> Iterator[Callable[..., Server]]:
    made: list[Server] = []
    apps = []

    def make(name: str, *, roles: str = "api,jobs", start: bool = True) -> Server:
        settings = Settings(
            home=tmp_path / name,
            database_url=database_url,
            artifacts=str(tmp_path / "artifacts"),
            admin_token=ADMIN_TOKEN,
            secret_key=_fernet_key(),  # servers sharing a database share the key of its secrets
            roles=roles,
            job_lease_seconds=LEASE_S,
        )
        app = create_app(settings)
        apps.append(app)
        server = Server(app.state.jobs_runtime, settings.home)
        made.append(server)
        if start:
            server.runtime.start()
        return server

    yield make
    for server in made:
        server.runtime.stop()  # a second stop does nothing
    for app in apps:
        app.state.services.audit.stop()
        app.state.database.close()


def _fernet_key() -> str:
    import base64

    return base64.urlsafe_b64encode(b"k" * 32).decode()


def _submit(server: Server, command: str, name: str, **extra: object) -> Job:
    return server.jobs.create(ADMIN, JobSubmission(command=command, name=name, **extra))  # type: ignore[arg-type]


def _wait(server: Server, name: str, until: Callable[[Job], bool], timeout: float = 60) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = server.jobs.get(ADMIN, name)
        if until(job):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {name} is still {server.jobs.get(ADMIN, name).status}")


def _ended(job: Job) -> bool:
    return job.status in TERMINAL


def _log(server: Server, name: str) -> str:
    data, _ = server.jobs.read_log(ADMIN, name, 0, 1 << 22)
    return data.decode()


def test_two_servers_run_each_queued_job_exactly_once(servers: Callable[..., Server], tmp_path: Path) -> None:
    ran = tmp_path / "ran.txt"
    a, b = servers("a"), servers("b")
    names = [f"once-{i}" for i in range(12)]
    for i, name in enumerate(names):
        _submit((a, b)[i % 2], f"sleep 0.3; echo $SHIPYARD_JOB_NAME >> {ran}", name)
    jobs = [_wait(a, name, _ended) for name in names]
    assert {j.status for j in jobs} == {JobStatus.COMPLETED}
    assert sorted(ran.read_text().split()) == sorted(names)
    # Both took jobs: each claim event names the server that prepared it.
    preparers = {next(e.message for e in j.events if e.status == JobStatus.PREPARING) for j in jobs}
    assert len({p.rsplit("server ", 1)[1] for p in preparers}) == 2


def test_a_job_log_is_read_whole_from_a_server_that_did_not_run_it(servers: Callable[..., Server]) -> None:
    runner, reader = servers("runner"), servers("reader", roles="api")
    _submit(runner, f"{sys.executable} -c \"print('x' * 3000000)\"; echo done", "chatty")
    _wait(runner, "chatty", _ended)
    text = _log(reader, "chatty")
    assert "x" * 3_000_000 in text  # more than one chunk, whole and in order
    assert text.endswith("[shipyard] completed\n")
    assert text.index("[shipyard] $ ") < text.index("xxx") < text.index("\ndone\n")


def test_a_cancel_asked_of_any_server_stops_the_job_where_it_runs(
    servers: Callable[..., Server], tmp_path: Path
) -> None:
    servers("runner")
    front = servers("front", roles="api")
    _submit(front, "echo started; sleep 600", "long")
    _wait(front, "long", lambda j: j.status == JobStatus.RUNNING and "started" in _log(front, "long"))
    asked = time.monotonic()
    front.jobs.cancel(ADMIN, "long")
    job = _wait(front, "long", _ended, timeout=30)
    assert job.status == JobStatus.CANCELED
    assert job.failure is not None and job.failure.message == "canceled by admin"
    assert time.monotonic() - asked < 8  # the holder acted on the database state


def test_a_stopped_servers_running_job_is_adopted_on_the_same_machine(
    servers: Callable[..., Server], tmp_path: Path
) -> None:
    ran = tmp_path / "ran.txt"
    a, b = servers("a"), servers("b", start=False)
    _submit(a, f"echo started; sleep 3; echo $SHIPYARD_JOB_NAME >> {ran}; echo finished", "moved")
    _wait(a, "moved", lambda j: j.status == JobStatus.RUNNING and "started" in _log(a, "moved"))
    a.runtime.stop()  # its lease stays; its process goes on under its supervisor
    stopped = time.monotonic()
    b.runtime.start()
    job = _wait(b, "moved", lambda j: j.lease_owner not in (None, _node(a)) or j.done, timeout=15)
    adopted_after = time.monotonic() - stopped
    job = _wait(b, "moved", _ended)
    assert job.status == JobStatus.COMPLETED, job.failure
    assert ran.read_text().split() == ["moved"]  # ran once: adopted, not run again
    assert adopted_after <= LEASE_S + 1.5
    assert any("adopted by server" in e.message for e in job.events)
    text = _log(b, "moved")
    assert text.count("\nstarted\n") == 1 and "\nfinished\n" in text  # the log goes on, no line twice


def test_a_job_its_server_was_finalizing_when_it_stopped_is_adopted_and_completes(
    servers: Callable[..., Server], tmp_path: Path
) -> None:
    # Seen in benchmarks/job_failover.py: the adopter tried Finalizing → Finalizing and failed
    # a job whose process had succeeded.
    ran = tmp_path / "ran.txt"
    a, b = servers("a"), servers("b", start=False)
    _submit(a, f"sleep 1; echo $SHIPYARD_JOB_NAME >> {ran}", "finalizing")
    job = _wait(a, "finalizing", lambda j: j.status == JobStatus.RUNNING)
    runner = a.runtime.runner
    assert runner is not None
    a.runtime.stop()  # its lease stays, as after a kill
    runner.transition(job, JobStatus.FINALIZING, "the process ended: SUCCEEDED")  # where it died
    b.runtime.start()
    job = _wait(b, "finalizing", _ended, timeout=30)
    assert job.status == JobStatus.COMPLETED, job.failure
    assert ran.read_text().split() == ["finalizing"]
    assert any("adopted by server" in e.message for e in job.events)


def test_a_job_whose_machine_is_gone_fails_lost_or_is_retried(
    servers: Callable[..., Server], tmp_path: Path
) -> None:
    ran = tmp_path / "ran.txt"
    a = servers("a")
    command = f"echo $SHIPYARD_JOB_NAME >> {ran}; echo started; sleep 600"
    _submit(a, command, "gone")
    _submit(a, command.replace("600", "2"), "again", retries=1)
    for name in ("gone", "again"):
        _wait(a, name, lambda j, name=name: "\nstarted\n" in _log(a, name))  # type: ignore[misc]
    a.runtime.stop()
    _kill_processes(a.home)  # its machine went away, and its processes with it
    elsewhere = servers("elsewhere", start=False)
    runner = elsewhere.runtime.runner
    assert runner is not None
    runner.node = RunnerNode(runner.node.id, "another-machine", "elsewhere")
    elsewhere.runtime.start()
    lost = _wait(elsewhere, "gone", _ended, timeout=20)
    assert lost.status == JobStatus.FAILED
    assert lost.failure is not None and lost.failure.cause == FailureCause.LOST
    assert socket.gethostname() in lost.failure.message and "cannot reach it" in lost.failure.message
    retried = _wait(elsewhere, "again", _ended, timeout=30)
    assert (retried.status, retried.attempt) == (JobStatus.COMPLETED, 2)
    assert "retry 1 of 1" in _log(elsewhere, "again")
    assert ran.read_text().split().count("again") == 2


def test_a_second_job_runner_on_one_home_is_refused(servers: Callable[..., Server]) -> None:
    servers("shared")
    second = servers("shared", start=False)
    with pytest.raises(Exception, match=r"runs jobs from .*give each server with the jobs role a --home"):
        second.runtime.hold_home()


def _node(server: Server) -> str:
    assert server.runtime.runner is not None
    return server.runtime.runner.node.id


def _kill_processes(home: Path) -> None:
    for process in (home / "compute").rglob("process.json"):
        pid = json.loads(process.read_text())["pid"]
        with contextlib.suppress(ProcessLookupError):  # it ended already
            os.killpg(pid, signal.SIGKILL)
