"""Submit and cancel through an API-only server; the jobs server acts within a second.

Two in-process servers on one PostgreSQL database (the real services, stores, local compute
target and processes): ``front`` has only the ``api`` role, ``worker`` the ``jobs`` role.
The worker's queue poll is set to a minute, so only PostgreSQL's LISTEN/NOTIFY can wake it
in time: a regression to polling fails here rather than hiding behind a short poll.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shipyard.domain.jobs import TERMINAL, Job, JobStatus
from shipyard.server.jobs_runtime import JobsRuntime
from shipyard.services.jobs import JobSubmission
from shipyard.settings import Settings
from shipyard.stores.sql.wakeups import PostgresWakeUps
from tests.conftest import ADMIN_TOKEN
from tests.integration.test_job_leases import ADMIN, _fernet_key

ROUNDS = 5


@pytest.fixture
def pair(pg_database_url: str, tmp_path: Path) -> Iterator[tuple[JobsRuntime, JobsRuntime]]:
    from shipyard.server.app import create_app

    apps = []
    for name, roles in (("front", "api"), ("worker", "api,jobs")):
        settings = Settings(
            home=tmp_path / name,
            database_url=pg_database_url,
            artifacts=str(tmp_path / "artifacts"),
            admin_token=ADMIN_TOKEN,
            secret_key=_fernet_key(),
            roles=roles,
        )
        apps.append(create_app(settings))
    front, worker = (app.state.jobs_runtime for app in apps)
    assert front.runner is None and worker.runner is not None
    worker.runner.queue_poll_s = 60.0  # only a NOTIFY wakes it within the test's bounds
    worker.start()
    wakeups = worker.runner.wakeups
    assert isinstance(wakeups, PostgresWakeUps)
    assert wakeups.listening.wait(10), "the jobs server never listened"
    try:
        yield front, worker
    finally:
        worker.stop()
        for app in apps:
            app.state.services.audit.stop()
            app.state.database.close()


def _wait(runtime: JobsRuntime, name: str, until: Callable[[Job], bool], timeout: float = 30) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = runtime.jobs.get(ADMIN, name)
        if until(job):
            return job
        time.sleep(0.01)
    raise AssertionError(f"job {name} is still {runtime.jobs.get(ADMIN, name).status}")


def _at(job: Job, status: JobStatus) -> int:
    return next(e.at for e in job.events if e.status == status)


def test_a_job_submitted_to_an_api_only_server_runs_on_the_jobs_server_within_a_second(
    pair: tuple[JobsRuntime, JobsRuntime],
) -> None:
    front, _ = pair
    waits = []
    for i in range(ROUNDS):
        name = f"woken-{i}"
        front.jobs.create(ADMIN, JobSubmission(command="true", name=name))
        job = _wait(front, name, lambda j: j.status in TERMINAL)
        assert job.status == JobStatus.COMPLETED, job.failure
        # Both stamps are the database's record: queued by front, running as the process started.
        waits.append((_at(job, JobStatus.RUNNING) - _at(job, JobStatus.QUEUED)) / 1000)
    assert statistics.median(waits) < 1.0, waits


def test_a_cancel_asked_of_an_api_only_server_stops_the_job_within_a_second(
    pair: tuple[JobsRuntime, JobsRuntime],
) -> None:
    front, _ = pair
    waits = []
    for i in range(ROUNDS):
        name = f"stopped-{i}"
        front.jobs.create(ADMIN, JobSubmission(command="sleep 600", name=name))
        _wait(front, name, lambda j: j.status == JobStatus.RUNNING)
        asked = time.monotonic()
        front.jobs.cancel(ADMIN, name)
        job = _wait(front, name, lambda j: j.status in TERMINAL)
        waits.append(time.monotonic() - asked)
        assert job.status == JobStatus.CANCELED, job.failure
    assert statistics.median(waits) < 1.0, waits
