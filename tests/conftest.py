"""Shared fixtures: a real server process on port 0, and PostgreSQL databases made per test.

``SHIPYARD_TEST_DATABASE_URL`` (e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/test``)
enables the PostgreSQL half of parametrised tests; without it they are skipped locally,
and CI always sets it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

PG_URL = os.environ.get("SHIPYARD_TEST_DATABASE_URL")

# Auth is on in every test (issue 10): each server's owner `admin` gets this token at first
# start, and the SDK, the CLI and the mlflow client read it from the environment. Tests of
# other principals make their own users and tokens; tests of --no-auth say so.
ADMIN_TOKEN = "shy_test_admin_token_0123456789abcdefABCDEF"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
os.environ["SHIPYARD_ADMIN_TOKEN"] = ADMIN_TOKEN
os.environ["SHIPYARD_TOKEN"] = ADMIN_TOKEN
os.environ["MLFLOW_TRACKING_TOKEN"] = ADMIN_TOKEN
for _leak in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
    os.environ.pop(_leak, None)
_LISTENING = re.compile(r"listening on (http://\S+)")


@dataclass
class ServerProcess:
    """A ``shipyard up`` child process. ``url`` is known once it printed its address."""

    home: Path
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    command: str = "up"  # or "serve": a scoring replica
    proc: subprocess.Popen[str] | None = None
    url: str = ""
    output: list[str] = field(default_factory=list)

    def start(self, timeout: float = 30.0) -> ServerProcess:
        cmd = [
            sys.executable,
            "-m",
            "shipyard",
            self.command,
            "--port",
            "0",
            "--home",
            str(self.home),
            *self.args,
        ]
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.output.append(line)
            match = _LISTENING.search(line)
            if match:
                self.url = match.group(1)
                break
        if not self.url:
            self.stop()
            raise RuntimeError("server did not start:\n" + "".join(self.output))
        self._drain()
        try:
            self._wait_healthy(deadline)
        except RuntimeError:
            self.stop()  # never leave a server behind that nobody will stop
            raise
        return self

    def _drain(self) -> None:
        import threading

        def pump() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                self.output.append(line)

        self._pump = threading.Thread(target=pump, daemon=True)
        self._pump.start()

    def _wait_healthy(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError("server never became healthy:\n" + "".join(self.output))

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        pump = getattr(self, "_pump", None)
        if pump is not None:
            pump.join(timeout=5)  # the child exited: the pipe is at EOF
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode


@pytest.fixture(scope="session", autouse=True)
def spill_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the SDK keeps points a down server could not take (issue 12): the tests' own
    folder, never the user's ``~/.local/state``; SDK subprocesses inherit it."""
    folder = tmp_path_factory.mktemp("spill")
    os.environ["SHIPYARD_SPILL_DIR"] = str(folder)
    return folder


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[callable]:  # type: ignore[valid-type]
    started: list[ServerProcess] = []

    def make(
        home: Path | None = None, args: list[str] | None = None, env: dict[str, str] | None = None
    ) -> ServerProcess:
        proc = ServerProcess(home or tmp_path / "home", args or [], env or {}).start()
        started.append(proc)
        return proc

    yield make
    for proc in started:
        proc.stop()


@pytest.fixture
def server(server_factory) -> ServerProcess:  # type: ignore[no-untyped-def]
    """A real SQLite-backed server on a free port."""
    return server_factory()  # type: ignore[no-any-return]


def _admin_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database="postgres").render_as_string(hide_password=False)


@contextmanager
def fresh_pg_database(prefix: str = "shipyard_test") -> Iterator[str]:
    """The URL of a new, uniquely named PostgreSQL database, dropped on leaving (skips the
    test when SHIPYARD_TEST_DATABASE_URL is not set)."""
    if not PG_URL:
        pytest.skip("SHIPYARD_TEST_DATABASE_URL is not set")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_admin_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    with fresh_pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each backend in turn: a SQLite file in tmp_path, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shipyard.db'}"
    return request.getfixturevalue("pg_database_url")  # type: ignore[no-any-return]
