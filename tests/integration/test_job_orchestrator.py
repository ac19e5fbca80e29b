"""Composite job types are plug-ins: a toy type, unknown to the runner and the orchestrator,
expands into child command jobs that really run, on each backend in turn; cancel, failure and
a takeover by a second server are handled for every type alike.

In-process like test_job_leases.py: the real services, stores, local compute target and
processes; each "server" an app built by ``create_app`` on a home of its own. The toy type is
handed to the orchestrator in place of the package's discovery — the one seam a test needs,
and the proof that adding a type touches neither the runner nor the orchestrator.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shipyard.domain.jobs import TERMINAL, FailureCause, Job, JobStatus
from shipyard.errors import InvalidArgument
from shipyard.server.app import create_app
from shipyard.server.jobs_runtime import JobsRuntime
from shipyard.services.job_kinds import kind_of
from shipyard.services.job_kinds.base import JobKind, JobRequest, ParentHandle
from shipyard.services.jobs import JobService, JobSubmission, ParentSubmission
from shipyard.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.integration.test_job_leases import ADMIN, _fernet_key

LEASE_S = 2.0


class FanOut(JobKind):
    """``n`` children in waves of ``wave``; each child appends its step to a file."""

    type = "fanout"

    def check(self, ctx: object, request: JobRequest, jobs: JobService) -> None:  # type: ignore[override]
        return None

    def submit(self, ctx: object, request: JobRequest, jobs: JobService) -> Job:  # type: ignore[override]
        raise NotImplementedError  # the tests create the parent directly

    def advance(self, parent: ParentHandle) -> None:
        spec = parent.job.spec
        if spec.get("explode"):
            raise InvalidArgument("the toy type was told to fail")
        children = parent.children()
        running = [c for c in children.values() if not c.done]
        for i in range(int(spec["n"])):
            step = f"part_{i}"
            if step not in children and len(running) < int(spec.get("wave", 99)):
                command = f"{spec.get('before', '')} echo {step} >> {spec['file']}"
                running.append(parent.create_child(step, JobSubmission(command=command)))
        children = parent.children()
        parent.save_report({"children": {s: f"child {c.status}" for s, c in children.items()}})
        if len(children) == int(spec["n"]) and all(c.done for c in children.values()):
            ok = all(c.status == JobStatus.COMPLETED for c in children.values())
            parent.log_to_run(metrics={"children": float(len(children))})
            parent.finish(JobStatus.COMPLETED if ok else JobStatus.FAILED, f"{len(children)} children ended")


TOY = FanOut()


def _kind_for(type_: str) -> JobKind | None:
    return TOY if type_ == "fanout" else kind_of(type_)


@pytest.fixture
def servers(database_url: str, tmp_path: Path) -> Iterator[Callable[..., JobsRuntime]]:
    made: list[JobsRuntime] = []
    apps = []

    def make(name: str) -> JobsRuntime:
        settings = Settings(
            home=tmp_path / name,
            database_url=database_url,
            artifacts=str(tmp_path / "artifacts"),
            admin_token=ADMIN_TOKEN,
            secret_key=_fernet_key(),
            roles="api,jobs",
            job_lease_seconds=LEASE_S,
        )
        app = create_app(settings)
        apps.append(app)
        runtime: JobsRuntime = app.state.jobs_runtime
        assert runtime.orchestrator is not None
        runtime.orchestrator.kind_for = _kind_for
        runtime.orchestrator.poll_s = 0.1
        made.append(runtime)
        runtime.start()
        return runtime

    yield make
    for runtime in made:
        runtime.stop()
    for app in apps:
        app.state.services.audit.stop()
        app.state.database.close()


def _parent(runtime: JobsRuntime, name: str, **spec: object) -> Job:
    return runtime.jobs.create_parent(ADMIN, ParentSubmission(type="fanout", spec=spec, name=name))


def _wait(runtime: JobsRuntime, name: str, until: Callable[[Job], bool], timeout: float = 60) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = runtime.jobs.get(ADMIN, name)
        if until(job):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {name} is still {runtime.jobs.get(ADMIN, name).status}")


def _ended(job: Job) -> bool:
    return job.status in TERMINAL


def test_a_new_type_expands_into_children_that_run_as_child_runs(
    servers: Callable[..., JobsRuntime], tmp_path: Path
) -> None:
    server = servers("a")
    out = tmp_path / "out.txt"
    _parent(server, "fan", n=5, wave=2, file=str(out))
    parent = _wait(server, "fan", _ended)
    assert parent.status == JobStatus.COMPLETED, parent.failure
    assert parent.type == "fanout" and not parent.leaf
    assert sorted(out.read_text().split()) == [f"part_{i}" for i in range(5)]  # each ran once
    children = server.jobs.children(ADMIN, "fan")
    assert [c.step for c in children] == [f"part_{i}" for i in range(5)]
    assert all(c.parent == "fan" and c.leaf and c.name == f"fan-{c.step}" for c in children)
    assert parent.report["children"] == {f"part_{i}": "child Completed" for i in range(5)}
    # Top-level listings leave the children out; --parent lists them.
    top, _ = server.jobs.list(ADMIN)
    assert [j.name for j in top] == ["fan"]
    listed, _ = server.jobs.list(ADMIN, parent="fan")
    assert sorted(j.name for j in listed) == sorted(c.name for c in children)
    with server.jobs.db.read() as uow:
        runs = [uow.runs.get(c.run_id) for c in children]
    assert {r.parent_run_id for r in runs if r is not None} == {parent.run_id}


def test_canceling_the_parent_stops_its_children_then_itself(
    servers: Callable[..., JobsRuntime], tmp_path: Path
) -> None:
    server = servers("a")
    _parent(server, "slow", n=2, file=str(tmp_path / "x"), before="sleep 600;")
    _wait(server, "slow", lambda j: len(server.jobs.children(ADMIN, "slow")) == 2)
    for child in server.jobs.children(ADMIN, "slow"):
        _wait(server, child.name, lambda j: j.status == JobStatus.RUNNING)
    server.jobs.cancel(ADMIN, "slow")
    parent = _wait(server, "slow", _ended, timeout=30)
    assert parent.status == JobStatus.CANCELED
    assert {c.status for c in server.jobs.children(ADMIN, "slow")} == {JobStatus.CANCELED}


def test_a_type_that_fails_fails_its_job_with_the_reason(servers: Callable[..., JobsRuntime]) -> None:
    server = servers("a")
    _parent(server, "boom", n=1, file="/dev/null", explode=True)
    parent = _wait(server, "boom", _ended)
    assert parent.status == JobStatus.FAILED
    assert parent.failure is not None and parent.failure.cause == FailureCause.SUBMIT
    assert "told to fail" in parent.failure.message


def test_an_unknown_type_fails_clearly(servers: Callable[..., JobsRuntime]) -> None:
    server = servers("a")
    server.jobs.create_parent(ADMIN, ParentSubmission(type="nosuchtype", spec={}, name="odd"))
    parent = _wait(server, "odd", _ended)
    assert parent.status == JobStatus.FAILED
    assert parent.failure is not None and "nosuchtype" in parent.failure.message


def test_another_server_takes_over_a_parent_and_creates_no_child_twice(
    servers: Callable[..., JobsRuntime], tmp_path: Path
) -> None:
    a = servers("a")
    out = tmp_path / "out.txt"
    gate = tmp_path / "gate"
    wait_gate = (
        f"{sys.executable} -c \"import os,time\nwhile not os.path.exists('{gate}'): time.sleep(0.05)\";"
    )
    _parent(a, "moved", n=4, wave=2, file=str(out), before=wait_gate)
    _wait(a, "moved", lambda j: len(a.jobs.children(ADMIN, "moved")) == 2)
    a.stop()  # its leases stay, as after a crash; its children's processes live on
    b = servers("b")
    gate.touch()
    parent = _wait(b, "moved", _ended, timeout=90)
    assert parent.status == JobStatus.COMPLETED, parent.failure
    assert sorted(out.read_text().split()) == [f"part_{i}" for i in range(4)]
    assert any("taken over by server" in e.message for e in parent.events)
