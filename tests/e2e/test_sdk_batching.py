"""The SDK's metric batching against a real server: retries never duplicate, nothing is lost."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

import httpx
import pytest

from shipyard.client.client import Client
from shipyard.client.run import ActiveRun
from shipyard.errors import InvalidArgument


class LoseFirstResponses(httpx.HTTPTransport):
    """Delivers each metric batch to the server, then 'loses' the response the first time,
    as a dropped connection would: the client cannot know the batch was stored."""

    def __init__(self, lose: int) -> None:
        super().__init__()
        self.lose = lose
        self.lost = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.url.path.endswith("/metrics") and self.lost < self.lose:
            response.read()
            self.lost += 1
            raise httpx.ReadError("connection reset after the server answered", request=request)
        return response


def test_a_retried_batch_is_stored_once(server) -> None:  # type: ignore[no-untyped-def]
    transport = LoseFirstResponses(lose=3)
    client = Client(server.url, transport=transport)
    experiment = client.get_or_create_experiment("retries")
    run = ActiveRun(client, client.create_run(experiment.id))
    for step in range(50_000):
        run.log_metric("loss", step / 10, step=step)
    run.end()
    assert transport.lost == 3
    history = client.get_metric_history(run.id, "loss")
    assert history.steps == list(range(50_000))
    assert history.total == 50_000
    assert client.get_run(run.id).metrics["loss"].count == 50_000
    client.close()


def test_a_refused_batch_surfaces_on_the_next_call(server) -> None:  # type: ignore[no-untyped-def]
    client = Client(server.url)
    experiment = client.get_or_create_experiment("refused")
    run = ActiveRun(client, client.create_run(experiment.id))
    run.log_metric("bad key with *", 1.0)
    with pytest.raises(InvalidArgument, match="may only contain"):
        run.flush()
    run.log_metric("good", 2.0)
    run.end()
    assert set(client.get_run(run.id).metrics) == {"good"}
    client.close()


def test_metrics_left_in_the_buffer_are_shipped_at_interpreter_exit(server) -> None:  # type: ignore[no-untyped-def]
    script = textwrap.dedent(
        f"""
        import shipyard
        shipyard.connect({server.url!r})
        run = shipyard.start_run(experiment="atexit")
        for step in range(1234):
            run.log_metric("x", float(step), step=step)
        run.log_metric("nan", float("nan"))
        print(run.id)
        # no end(), no flush(): the atexit hook must ship the points and finish the run
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    run_id = out.stdout.strip()
    client = Client(server.url)
    run = client.get_run(run_id)
    assert run.status == "FINISHED"
    assert run.metrics["x"].count == 1234
    assert math.isnan(run.metrics["nan"].value)
    client.close()
