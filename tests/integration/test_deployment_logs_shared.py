"""A deployment's preparation log is data: written by whichever server brings it up, read the
same from any other (``progress`` and ``get-logs`` behind a load balancer), kept with the
other logs in the artifact store. Two "servers" here are two connections to one real
database (each backend in turn) with one artifact folder."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.domain.context import RequestContext
from shipyard.domain.endpoints import Deployment, DeploymentState
from shipyard.services.endpoint_logs import PROGRESS_BYTES, StreamPreparationLogs
from shipyard.services.log_streams import LogStreams
from shipyard.services.serving_ports import DeploymentKey
from shipyard.stores.artifacts.local import LocalArtifactStore
from shipyard.stores.sql.database import SqlDatabase


@pytest.fixture
def two(db: SqlDatabase, database_url: str, tmp_path: Path) -> Iterator[tuple[StreamPreparationLogs, ...]]:
    other = SqlDatabase(database_url)
    store = LocalArtifactStore(tmp_path / "artifacts")
    yield tuple(StreamPreparationLogs(d, LogStreams(d, store)) for d in (db, other))
    other.close()


def _deploy(db: SqlDatabase, ctx: RequestContext, name: str, created_at: int) -> DeploymentKey:
    deployment = Deployment(
        "iris",
        name,
        ctx.workspace,
        DeploymentState.CREATING,
        "",
        "r1",
        {},
        {},
        created_at,
        "alice",
        created_at,
    )
    with db.write() as uow:
        uow.deployments.create(ctx.workspace, deployment)
    return DeploymentKey(ctx.workspace, "iris", name)


@pytest.fixture
def key(db: SqlDatabase, ctx: RequestContext) -> DeploymentKey:
    from shipyard.services.endpoints import EndpointService
    from shipyard.specs.endpoint import OnlineEndpointSpec

    EndpointService(db, None, Path("unused"), lambda: "http://127.0.0.1").create(
        ctx, OnlineEndpointSpec(name="iris")
    )
    return _deploy(db, ctx, "blue", 1)


def test_what_one_server_says_another_follows_and_tails(
    two: tuple[StreamPreparationLogs, StreamPreparationLogs], key: DeploymentKey
) -> None:
    writer, reader = two
    assert reader.read_from(key, -1) == ("", 0)  # nothing yet: follow from the start
    for i in range(40):  # more lines than one read of the store returns
        writer.say(key, f"model: line {i}")
    text, offset = reader.read_from(key, 0)
    assert text.splitlines() == [f"model: line {i}" for i in range(40)]
    assert reader.read_from(key, offset) == ("", offset)
    assert reader.read_from(key, offset + 5) == ("", 0)  # past the end: begun anew
    assert reader.tail(key, 3) == "model: line 37\nmodel: line 38\nmodel: line 39\n"
    assert reader.tail(key, 100).count("\n") == 40


def test_servers_saying_at_once_lose_no_line(
    two: tuple[StreamPreparationLogs, StreamPreparationLogs], key: DeploymentKey
) -> None:
    def say(logs: StreamPreparationLogs, who: str) -> None:
        for i in range(15):
            logs.say(key, f"{who} {i}")

    threads = [threading.Thread(target=say, args=(logs, who)) for logs, who in zip(two, "ab", strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = two[1].tail(key, 100).splitlines()
    assert sorted(lines) == sorted(f"{who} {i}" for who in "ab" for i in range(15))
    for who in "ab":  # each server's lines in its order
        assert [line for line in lines if line[0] == who] == [f"{who} {i}" for i in range(15)]


def test_a_namesake_made_after_a_delete_has_a_log_of_its_own(
    two: tuple[StreamPreparationLogs, StreamPreparationLogs],
    key: DeploymentKey,
    db: SqlDatabase,
    ctx: RequestContext,
) -> None:
    writer, reader = two
    writer.say(key, "the first blue")
    with db.write() as uow:
        uow.deployments.delete(ctx.workspace, "iris", "blue")
    writer.say(key, "said while it is gone: dropped")
    assert reader.tail(key, 10) == "" and reader.read_from(key, 0) == ("", 0)
    _deploy(db, ctx, "blue", 2)
    writer.say(key, "the second blue")
    assert reader.tail(key, 10) == "the second blue\n"


def test_a_progress_answer_is_bounded_and_ends_on_a_whole_line(
    two: tuple[StreamPreparationLogs, StreamPreparationLogs], key: DeploymentKey
) -> None:
    writer, reader = two
    line = "uv: " + "x" * 5000
    for _ in range(PROGRESS_BYTES // len(line) + 3):
        writer.say(key, line)
    text, offset = reader.read_from(key, 0)
    assert 0 < len(text) <= PROGRESS_BYTES and text.endswith("\n") and offset == len(text)
    rest, _ = reader.read_from(key, offset)
    assert rest.startswith("uv: x")
