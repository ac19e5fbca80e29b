"""Shared by the monitoring e2e tests: one server with the credit model trained as a job
(examples/monitoring/train.yml on a data asset) and deployed to credit/blue with data
collection — the setup the online and the batch loop both start from."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from examples.monitoring.make_data import credit

from tests.conftest import ServerProcess
from tests.e2e.test_monitor_loop import EXAMPLE, _ok


@pytest.fixture(scope="session")
def credit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str, Path]]:
    tmp = tmp_path_factory.mktemp("loop")
    server = ServerProcess(tmp / "home").start()
    try:
        data = tmp / "credit.csv"
        credit(2000).to_csv(data, index=False)
        url = server.url
        _ok("data", "create", "--name", "credit", "--type", "uri_file", "--path", str(data), url=url)
        _ok("job", "create", "-f", str(EXAMPLE / "train.yml"), "--stream", url=url)
        _ok("online-endpoint", "create", "-f", str(EXAMPLE / "endpoint.yml"), url=url)
        _ok("online-deployment", "create", "-f", str(EXAMPLE / "blue.yml"), "--all-traffic", url=url)
        keys = json.loads(
            _ok("online-endpoint", "get-credentials", "-n", "credit", "--output", "json", url=url)
        )
        yield server, str(keys["primaryKey"]), tmp
    finally:
        server.stop()
