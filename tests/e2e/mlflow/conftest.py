"""A real Shipyard server for the real ``mlflow`` client, on SQLite and on PostgreSQL.

One server per backend and module (a start costs a second or two); tests keep out of each
other's way with their own experiment names. mlflow keeps global state (the tracking URI,
the active run stack, MLFLOW_* variables): it is reset around every test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ADMIN_TOKEN, PG_URL, ServerProcess, _admin_url


def _pg_database() -> Iterator[str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    assert PG_URL is not None
    name = f"shipyard_mlflow_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_admin_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def mlflow_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A running server; ``mlflow``'s tracking URI points at it during each test."""
    home: Path = tmp_path_factory.mktemp(f"mlflow-{request.param}")
    databases: Iterator[str] | None = None
    args: list[str] = []
    if request.param == "postgresql":
        if not PG_URL:
            pytest.skip("SHIPYARD_TEST_DATABASE_URL is not set")
        databases = _pg_database()
        args = ["--database-url", next(databases)]
    server = ServerProcess(home, args, {}).start()
    try:
        yield server
    finally:
        server.stop()
        if databases is not None:
            next(databases, None)


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
