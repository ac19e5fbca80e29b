"""The SDK through an outage, against the real API in-process: a transport that can be cut
stands for the network. (tests/e2e/test_outages.py stops a real server instead.)"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import FastAPI

from shipyard.client import _batcher
from shipyard.client._spill import LOST_POINTS_TAG, read_leftover, replay
from shipyard.client.client import Client
from shipyard.client.run import ActiveRun
from shipyard.errors import Unavailable
from shipyard.server.app import create_app
from shipyard.settings import Settings
from tests.conftest import ADMIN_TOKEN


class Cable(httpx.BaseTransport):
    """The app in-process, behind a cable that can be pulled (``up = False``)."""

    def __init__(self, app: FastAPI, portal: BlockingPortal) -> None:
        self.asgi = httpx.ASGITransport(app=app)
        self.portal = portal
        self.up = True

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not self.up:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        body = b"".join(request.stream)  # type: ignore[union-attr]
        headers = [
            (k, v) for k, v in request.headers.items() if k not in ("content-length", "transfer-encoding")
        ]
        inner = httpx.Request(request.method, request.url, headers=headers, content=body)

        async def call() -> httpx.Response:
            answer = await self.asgi.handle_async_request(inner)
            return httpx.Response(answer.status_code, headers=answer.headers, content=await answer.aread())

        return self.portal.call(call)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Client, Cable]]:
    app = create_app(Settings(home=tmp_path_factory.mktemp("outage"), roles="api"))
    with start_blocking_portal() as portal:
        cable = Cable(app, portal)
        client = Client("http://127.0.0.1", token=ADMIN_TOKEN, transport=cable)
        client.http.retries = 0  # the probes' pace is the batcher's own (made quick below)
        try:
            yield client, cable
        finally:
            client.close()
            app.state.services.audit.stop()


@pytest.fixture
def cable(api: tuple[Client, Cable], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Cable]:
    monkeypatch.setattr(_batcher, "_PROBE_MIN_S", 0.01)
    monkeypatch.setattr(_batcher, "_PROBE_MAX_S", 0.05)
    monkeypatch.setenv("SHIPYARD_SPILL_DIR", str(tmp_path / "spill"))
    yield api[1]
    api[1].up = True


def new_run(client: Client, **kwargs: float) -> ActiveRun:
    experiment = client.get_or_create_experiment("outages")
    return ActiveRun(client, client.create_run(experiment.id), **kwargs)  # type: ignore[arg-type]


def log(run: ActiveRun, steps: range) -> None:
    for step in steps:
        run.log_metrics({"loss": step / 10, "acc": step / 1e5}, step=step)


def test_points_logged_while_the_server_is_unreachable_all_arrive(
    api: tuple[Client, Cable], cable: Cable, tmp_path: Path
) -> None:
    client = api[0]
    run = new_run(client, outage_wait_s=30)
    log(run, range(0, 5000))
    run.flush()
    cable.up = False
    log(run, range(5000, 30_000))
    cable.up = True
    run.end()
    got = client.get_run(run.id)
    assert got.status == "FINISHED" and LOST_POINTS_TAG not in got.tags
    history = client.get_metric_history(run.id, "loss")
    assert history.steps == list(range(30_000))
    assert history.values == [s / 10 for s in range(30_000)]
    assert got.metrics["acc"].count == 30_000
    assert list((tmp_path / "spill").glob("*.spill")) == []  # sent: nothing left behind


def test_a_run_ending_during_the_outage_is_kept_and_replayed_later(
    api: tuple[Client, Cable], cable: Cable, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = api[0]
    run = new_run(client, outage_wait_s=0.3)
    log(run, range(0, 1000))
    cable.up = False
    log(run, range(1000, 3000))
    with caplog.at_level(logging.ERROR, logger="shipyard.client"):
        run.end()
    (kept,) = (tmp_path / "spill").glob("*.spill")
    assert f"run {run.id} is not ended" in caplog.text
    assert f"Its end (FINISHED), 6000 metric points are kept in {kept}" in caplog.text
    assert "`shipyard run replay` sends them once the server is back" in caplog.text
    cable.up = True
    assert client.get_run(run.id).status == "RUNNING"
    spare = shutil.copy(kept, tmp_path / "copy.spill")

    left = read_leftover(kept)
    assert left is not None and left.status == "FINISHED"
    done = replay(client, left)
    assert (done.error, done.sent, done.status) == ("", left.points, "FINISHED")
    assert not kept.exists()
    got = client.get_run(run.id)
    assert got.status == "FINISHED"
    assert client.get_metric_history(run.id, "loss").steps == list(range(3000))
    # Replayed twice (a copy): the keys make it a no-op.
    again = replay(client, read_leftover(Path(spare)))  # type: ignore[arg-type]
    assert (again.sent, again.duplicate) == (0, left.points)
    assert client.get_run(run.id).metrics["loss"].count == 3000


def test_points_that_do_not_fit_are_lost_loudly_and_the_run_is_tagged(
    api: tuple[Client, Cable], cable: Cable, caplog: pytest.LogCaptureFixture
) -> None:
    client = api[0]
    run = new_run(client, outage_wait_s=30, spill_max_mb=1)  # one batch of 20,000 points fits, not two
    cable.up = False
    with caplog.at_level(logging.WARNING, logger="shipyard.client"):
        log(run, range(0, 20_000))
        with pytest.raises(Unavailable):  # every batch kept or lost before the server is back
            run._batcher.flush(timeout=0.3)
        cable.up = True
        run.end()
    got = client.get_run(run.id)
    lost = int(got.tags[LOST_POINTS_TAG])
    assert lost > 0
    assert got.status == "FINISHED"
    stored = got.metrics["loss"].count + got.metrics["acc"].count
    assert stored + lost == 40_000
    assert "LOST" in caplog.text and f"the run is tagged {LOST_POINTS_TAG}={lost}" in caplog.text


def test_a_refused_batch_is_still_an_error_not_an_outage(api: tuple[Client, Cable], cable: Cable) -> None:
    from shipyard.errors import InvalidArgument

    client = api[0]
    run = new_run(client, outage_wait_s=5)
    run.log_metric("bad key with *", 1.0)
    with pytest.raises(InvalidArgument, match="may only contain"):
        run.flush()
    run.end()
