"""A deployment's workers' output is data: a real worker process's print() on one "server"
is read through another (a second connection to the same real database, each backend in
turn, one artifact folder), batched into few chunks and capped per deployment."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shipyard.domain.context import RequestContext
from shipyard.domain.endpoints import Deployment, DeploymentState
from shipyard.services.endpoint_logs import WorkerLogs, shared_worker_logs
from shipyard.services.endpoints import EndpointService
from shipyard.services.log_streams import LogStreams
from shipyard.services.serving_ports import DeploymentKey
from shipyard.serving.local import LocalProcessRuntime
from shipyard.specs.endpoint import OnlineEndpointSpec
from shipyard.stores.artifacts.local import LocalArtifactStore
from shipyard.stores.sql.database import SqlDatabase

from ._helpers import script_plan

SCORE_PY = (
    "def init():\n"
    "    print('model loaded: hello from the worker', flush=True)\n\n"
    "def run(raw_data):\n"
    "    return 1\n"
)


@pytest.fixture
def key(db: SqlDatabase, ctx: RequestContext) -> DeploymentKey:
    EndpointService(db, None, Path("unused"), lambda: "http://127.0.0.1").create(
        ctx, OnlineEndpointSpec(name="iris")
    )
    row = Deployment("iris", "blue", ctx.workspace, DeploymentState.CREATING, "", "r1", {}, {}, 1, "alice", 1)
    with db.write() as uow:
        uow.deployments.create(ctx.workspace, row)
    return DeploymentKey(ctx.workspace, "iris", "blue")


@pytest.fixture
def store(tmp_path: Path) -> LocalArtifactStore:
    return LocalArtifactStore(tmp_path / "artifacts")


@pytest.fixture
def other(database_url: str) -> Iterator[SqlDatabase]:
    database = SqlDatabase(database_url)
    yield database
    database.close()


def _until(check: Callable[[], str], what: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if what in found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{what!r} never came: {check()!r}")


def test_a_workers_print_is_read_through_another_server(
    db: SqlDatabase,
    other: SqlDatabase,
    store: LocalArtifactStore,
    key: DeploymentKey,
    tmp_path: Path,
) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "score.py").write_text(SCORE_PY)
    (tmp_path / "model").mkdir()
    shared = WorkerLogs(db, LogStreams(db, store), "a1b2c3d4 on host-a", 1 << 20)
    runtime = LocalProcessRuntime(tmp_path / "serving", log_mirror=shared.mirror)
    try:
        runtime.apply(script_plan(key, tmp_path / "code", tmp_path / "model"))
        runtime.wait_ready(key, 60)
        reader = shared_worker_logs(other, LogStreams(other, store))
        said = _until(lambda: reader.tail(key, 100), "model loaded: hello from the worker")
        line = next(x for x in said.splitlines() if "hello from the worker" in x)
        assert line.startswith("[a1b2c3d4 on host-a] ") and "[worker 0]" in line, line
    finally:
        runtime.close()
        shared.close()
    # What the runtime said as it stopped was published by close().
    assert "the server is stopping" in reader.tail(key, 100)


def test_lines_are_batched_and_a_deployment_is_capped(
    db: SqlDatabase, other: SqlDatabase, store: LocalArtifactStore, key: DeploymentKey
) -> None:
    streams = LogStreams(db, store)
    cap = 256 << 10
    shared = WorkerLogs(db, streams, "a", cap)
    say = shared.mirror(key)
    try:
        for i in range(20000):  # ~0.8 MiB of lines, one call each, faster than a flush
            say(f"2026-12-05T00:00:00.000Z [worker 0] line {i:05d} {'x' * 10}\n")
    finally:
        shared.close()
    reader = shared_worker_logs(other, LogStreams(other, store))
    stream = reader.stream(key)
    assert stream is not None
    size = streams.size(stream)
    assert cap - 100 <= size <= cap + 200  # filled up to the cap, and one line saying so
    with db.read() as uow:
        chunks = uow.log_chunks.from_offset(stream, 0, 1000)
    assert len(chunks) <= cap // (64 << 10) + 2  # 64 KiB chunks, not one per line
    tail = reader.tail(key, 2).splitlines()
    assert tail[-1].startswith("[a] [shipyard] the workers' output past 0.25 MiB"), tail
    assert tail[0].startswith("[a] 2026-12-05T00:00:00.000Z [worker 0] line "), tail
    # Once full, more output is dropped here (each server's own file still has it).
    again = WorkerLogs(db, streams, "b", cap)
    again.mirror(key)("late line\n")
    again.close()
    assert streams.size(stream) == size
