"""Start the two servers on free loopback ports, wait until healthy, and always stop them.

Every process is started in its own session (process group), so stopping it also stops
the workers it forked (``mlflow server`` runs uvicorn with 4 worker processes).
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import secrets
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import psutil

_LISTENING = re.compile(r"listening on (http://\S+)")


class ServerFailed(RuntimeError):
    pass


@dataclass
class Server:
    name: str
    url: str
    proc: subprocess.Popen[str]
    seconds_to_healthy: float
    log: Path
    token: str | None = None  # Shipyard's owner token; None for a --no-auth server or the anchors


def clean_env(**extra: str) -> dict[str, str]:
    """Our environment without a user's SHIPYARD_* / MLFLOW_* settings (database URL, host,
    token…), which must not leak into what a benchmark starts; plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHIPYARD_", "MLFLOW_"))}
    env.update(extra)
    return env


def client_env(server: Server, **extra: str) -> dict[str, str]:
    """:func:`clean_env` for a client of ``server``: the CLI (SHIPYARD_URL, SHIPYARD_TOKEN) and
    the ``mlflow`` client (MLFLOW_TRACKING_URI, MLFLOW_TRACKING_TOKEN) reach it signed in."""
    env = clean_env(SHIPYARD_URL=server.url, MLFLOW_TRACKING_URI=server.url, **extra)
    if server.token:
        env |= {"SHIPYARD_TOKEN": server.token, "MLFLOW_TRACKING_TOKEN": server.token}
    return env


class Processes:
    """Owns every process the benchmark starts; leaving the ``with`` block stops them all."""

    def __init__(self) -> None:
        self._procs: list[subprocess.Popen[str]] = []

    def __enter__(self) -> Processes:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop_all()

    def spawn(
        self,
        argv: list[str],
        *,
        log: Path,
        cwd: Path,
        pipe_stdout: bool = False,
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[str]:
        """``env`` is added to a :func:`clean_env` copy of ours."""
        # The child gets its own copy of the log's descriptor; ours can close at once.
        with log.open("a") as out:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=clean_env(**(env or {})),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if pipe_stdout else out,
                stderr=out,
                text=True,
                start_new_session=True,
            )
        self._procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[str]) -> None:
        """SIGTERM the process group, SIGKILL it if it is not gone within 20 s."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        # Workers that outlived their parent are still in the group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        if proc in self._procs:
            self._procs.remove(proc)

    def stop_all(self) -> None:
        for proc in list(self._procs):
            self.stop(proc)


def group_cpu_seconds(pid: int, *, children: bool = True, reaped: bool = False) -> float:
    """User + system CPU seconds of ``pid`` and (``children``) every process under it: a
    server's uvicorn/gunicorn workers and job runners. ``reaped`` adds what children that
    already exited spent, as the OS charges it to the parent."""
    total = 0.0
    try:
        root = psutil.Process(pid)
        family = [root, *root.children(recursive=True)] if children else [root]
    except psutil.NoSuchProcess:
        return total
    for proc in family:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
        if reaped:
            total += times.children_user + times.children_system
    return total


def wait_idle(server: Server, *, below: float = 0.05, timeout: float = 180.0) -> float:
    """Wait until the server and its children use less than ``below`` of a core for two
    one-second windows in a row; return the seconds waited.

    ``mlflow server`` answers /health while its job runner and ~7 huey consumer processes
    are still importing, a minute of CPU on a 2-core machine: measuring then would charge
    that start-up to the requests.
    """
    start = time.monotonic()
    quiet = 0
    before = group_cpu_seconds(server.proc.pid)
    while quiet < 2 and time.monotonic() - start < timeout:
        time.sleep(1.0)
        after = group_cpu_seconds(server.proc.pid)
        quiet = quiet + 1 if after - before < below else 0
        before = after
    return time.monotonic() - start


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(log: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _wait_healthy(url: str, proc: subprocess.Popen[str], deadline: float, log: Path) -> None:
    while True:
        if proc.poll() is not None:
            raise ServerFailed(f"server exited with {proc.returncode} before {url} answered:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise ServerFailed(f"{url} did not answer 200 in time:\n{_tail(log)}")
        time.sleep(0.01)


def _read_url(proc: subprocess.Popen[str], log: Path, deadline: float) -> str:
    """The URL from the "listening on http://…" line; later output keeps flowing to the log."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        with log.open("a") as out:
            for line in proc.stdout:
                out.write(line)
                out.flush()
                lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, name="server-stdout", daemon=True).start()
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise ServerFailed("Shipyard did not print its URL in time") from None
        if line is None:
            raise ServerFailed("Shipyard exited before printing its URL")
        if found := _LISTENING.search(line):
            return found.group(1)


def start_shipyard(
    procs: Processes,
    python: str,
    home: Path,
    log_path: Path,
    root: Path,
    *,
    auth: bool = True,
    port: int = 0,
    token: str | None = None,
    args: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> Server:
    """``python -m shipyard up --port 0 --home <home>`` (on 127.0.0.1); timed from spawn to
    ``/healthz`` 200.

    Sign-in is on, as for every user: the owner ``admin`` is made on the fresh home with a
    token chosen here (SHIPYARD_ADMIN_TOKEN), returned as ``Server.token`` for the clients.
    ``auth=False`` adds ``--no-auth`` (only :mod:`auth`'s anchor). ``port`` and ``token``
    start it again on a home that has both (:mod:`outage`); ``args`` go after ours
    (``--database-url``…) and ``env`` into its environment."""
    argv = [python, "-m", "shipyard", "up", "--host", "127.0.0.1", "--port", str(port), "--home", str(home)]
    argv.extend(args)
    token = token or (secrets.token_urlsafe(32) if auth else None)
    env = {**(env or {}), "SHIPYARD_ADMIN_TOKEN": token} if token else dict(env or {})
    if not auth:
        argv.append("--no-auth")
    start = time.perf_counter()
    deadline = time.monotonic() + 120
    proc = procs.spawn(argv, log=log_path, cwd=root, pipe_stdout=True, env=env)
    url = _read_url(proc, log_path, deadline)
    _wait_healthy(f"{url}/healthz", proc, deadline, log_path)
    return Server("shipyard", url, proc, time.perf_counter() - start, log_path, token)


def start_mlflow(procs: Processes, mlflow_bin: Path, data: Path, log_path: Path) -> Server:
    """``mlflow server`` with a SQLite backend in ``data``; timed from spawn to ``/health`` 200."""
    data.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = [
        str(mlflow_bin),
        "server",
        "--backend-store-uri",
        f"sqlite:///{data / 'mlflow.db'}",
        "--artifacts-destination",
        str(data / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    url = f"http://127.0.0.1:{port}"
    start = time.perf_counter()
    proc = procs.spawn(argv, log=log_path, cwd=data)
    _wait_healthy(f"{url}/health", proc, time.monotonic() + 600, log_path)
    return Server("mlflow", url, proc, time.perf_counter() - start, log_path)
