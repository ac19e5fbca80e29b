"""Two servers on one PostgreSQL database share one job queue, and one is SIGKILLed.

Both are real ``shipyard up`` processes, each with a home of its own (as on two machines),
one artifact folder and one secret key. Jobs are submitted round-robin through both; each
appends its name to a file when it ends. Server A is killed while it runs jobs, then
restarted: every job ends ``Completed`` exactly once (the file has each name once), and the
jobs A held were adopted by B within the lease (4 s here, to keep CI short; the default is
10 s, and ``benchmarks/job_failover.py`` runs 200 jobs with it).
"""

from __future__ import annotations

import base64
import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import AUTH, ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

LEASE_S = 4
JOBS = 30
TERMINAL = {"Completed", "Failed", "Canceled"}


def _job(name: str, ran: Path) -> dict[str, Any]:
    # Each job waits for the gate, opened once A is dead: the jobs A runs at the kill are
    # still running then, however slow the machine, and end only after it.
    gate = ran.with_name("gate")
    command = f"while [ ! -e {gate} ]; do sleep 0.05; done; echo $SHIPYARD_JOB_NAME >> {ran}"
    return {"spec": {"command": command, "name": name, "experiment_name": "failover"}, "source": "job.yml"}


def _get(url: str, name: str) -> dict[str, Any]:
    response = httpx.get(f"{url}/api/v1/jobs/{name}", headers=AUTH, timeout=30)
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


def _wait(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _held_by(job: dict[str, Any]) -> str:
    """The server that claimed the job (named in its Preparing event)."""
    claims = [e["message"] for e in job["events"] if e["status"] == "Preparing"]
    return claims[-1].rsplit("(server ", 1)[-1] if claims else ""


def test_a_killed_servers_jobs_are_adopted_and_every_job_ends_once(
    server_factory: Callable[..., ServerProcess], pg_database_url: str, tmp_path: Path
) -> None:
    ran = tmp_path / "ran.txt"
    shared = {
        "SHIPYARD_SECRET_KEY": base64.urlsafe_b64encode(b"s" * 32).decode(),
        "SHIPYARD_JOB_LEASE_SECONDS": str(LEASE_S),
        "SHIPYARD_LOCAL_MAX_CONCURRENT": "4",
    }
    args = ["--database-url", pg_database_url, "--artifacts", str(tmp_path / "artifacts")]
    a = server_factory(home=tmp_path / "a", args=args, env=shared)
    b = server_factory(home=tmp_path / "b", args=args, env=shared)
    names = [f"fo-{i:02d}" for i in range(JOBS)]
    for i, name in enumerate(names):
        url = (a.url, b.url)[i % 2]
        httpx.post(f"{url}/api/v1/jobs", json=_job(name, ran), headers=AUTH, timeout=30).raise_for_status()

    node_of_a = json.loads((tmp_path / "a" / "node.json").read_text())["id"][:8]

    snapshot: dict[str, dict[str, Any]] = {}

    def running_on_a() -> list[str]:
        snapshot.update({n: _get(b.url, n) for n in names})
        return [
            n for n, j in snapshot.items() if j["status"] == "Running" and _held_by(j).startswith(node_of_a)
        ]

    _wait(lambda: len(running_on_a()) >= 2, 60, "server A to run jobs")
    a.stop(signal.SIGKILL)
    killed_at_ms = time.time() * 1000
    ran.with_name("gate").touch()
    held_by_a = [  # a job A was still preparing is queued again instead
        n for n, j in snapshot.items() if j["status"] == "Running" and _held_by(j).startswith(node_of_a)
    ]

    _wait(lambda: all(_get(b.url, n)["status"] in TERMINAL for n in names), 120, "every job to end")
    jobs = {n: _get(b.url, n) for n in names}
    assert {n: j["status"] for n, j in jobs.items() if j["status"] != "Completed"} == {}
    lines = ran.read_text().split()
    assert sorted(lines) == sorted(names)  # each job ran exactly once: none lost, none twice

    # Every job A held ended after the kill (the gate): each must have been adopted.
    assert held_by_a, "server A held no job when it was killed"
    adoptions = {
        n: e["at"] - killed_at_ms
        for n in held_by_a
        for e in jobs[n]["events"]
        if e["message"].startswith("adopted by server")
    }
    assert sorted(adoptions) == sorted(held_by_a), (held_by_a, adoptions)
    # A renewed its leases at most a quarter lease before the kill; B looks every second.
    assert max(adoptions.values()) <= (LEASE_S + 1.5) * 1000, adoptions

    restarted = ServerProcess(tmp_path / "a", args, shared).start()
    try:
        more = [f"after-{i}" for i in range(4)]
        for name in more:
            httpx.post(f"{restarted.url}/api/v1/jobs", json=_job(name, ran), headers=AUTH, timeout=30)
        _wait(lambda: all(_get(restarted.url, n)["status"] in TERMINAL for n in more), 60, "later jobs")
        assert {_get(restarted.url, n)["status"] for n in more} == {"Completed"}
        assert sorted(ran.read_text().split()) == sorted(names + more)
    finally:
        restarted.stop()
