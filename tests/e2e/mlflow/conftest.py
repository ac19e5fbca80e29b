"""A real Shipyard server for the real ``mlflow`` client, on SQLite and on PostgreSQL.

One server per backend and module (a start costs a second or two); tests keep out of each
other's way with their own experiment names. mlflow keeps global state (the tracking URI,
the active run stack, MLFLOW_* variables): it is reset around every test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.conftest import ADMIN_TOKEN, ServerProcess, fresh_pg_database


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def mlflow_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A running server; ``mlflow``'s tracking URI points at it during each test."""
    home: Path = tmp_path_factory.mktemp(f"mlflow-{request.param}")
    # Webhooks (test_webhooks.py) deliver to a receiver on this machine's loopback, which a
    # server refuses by default (SSRF); the refusal itself is tested in-process.
    env = {"SHIPYARD_WEBHOOK_ALLOW_PRIVATE_IPS": "true"}
    with ExitStack() as stack:
        args: list[str] = []
        if request.param == "postgresql":
            args = ["--database-url", stack.enter_context(fresh_pg_database("shipyard_mlflow"))]
        server = ServerProcess(home, args, env).start()
        stack.callback(server.stop)
        yield server


@pytest.fixture(autouse=True)
def _mlflow_state(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fresh mlflow globals per test, pointed at the module's server when the test has one."""
    import mlflow

    for key in list(os.environ):
        if key.startswith("MLFLOW_"):
            monkeypatch.delenv(key)
    # The unchanged client signs in the way it already can (Bearer); tests of other ways
    # (HTTP Basic, another user) set their own.
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", ADMIN_TOKEN)
    while mlflow.active_run() is not None:
        mlflow.end_run()
    if "mlflow_server" in request.fixturenames:
        server: ServerProcess = request.getfixturevalue("mlflow_server")
        mlflow.set_tracking_uri(server.url)
    yield
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(None)
    # set_experiment remembers the experiment in the module and in MLFLOW_EXPERIMENT_ID.
    mlflow.tracking.fluent._active_experiment_id = None
    for key in list(os.environ):
        if key.startswith("MLFLOW_"):
            del os.environ[key]
