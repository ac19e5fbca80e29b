"""A throw-away local Ray head on 127.0.0.1, for tests and benchmarks of the ``ray`` target.

Every port is chosen free (two heads on one machine do not collide), the temp dir is new,
usage stats are off, and leaving the ``with`` block kills exactly the processes this head
started — the ``ray start --block`` process group, its descendants, and anything whose
command line names its temp dir — never ``ray stop``, which would stop every Ray on the
machine. Ray is not imported: the ``ray`` executable next to ``sys.executable`` is run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil

from shipyard.errors import InvalidArgument, Unavailable

__all__ = ["local_ray_head", "ray_executable"]

_START_TIMEOUT_S = 120.0
_LOG_TAIL_CHARS = 4000
_PORT_FLAGS = (
    "--port",
    "--node-manager-port",
    "--object-manager-port",
    "--ray-client-server-port",
    "--dashboard-agent-listen-port",
    "--dashboard-agent-grpc-port",
    "--runtime-env-agent-port",
    "--metrics-export-port",
)


def ray_executable() -> Path:
    """The ``ray`` command of this interpreter's environment (it may not exist)."""
    return Path(sys.executable).with_name("ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(jobs_url: str) -> bool:
    try:
        return httpx.get(jobs_url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _names(proc: psutil.Process, temp_dir: str) -> bool:
    try:
        return any(temp_dir in part for part in proc.cmdline())
    except psutil.Error:
        return False


def _kill_head(head: subprocess.Popen[bytes], temp_dir: str) -> None:
    procs: dict[int, psutil.Process] = {}
    try:
        root = psutil.Process(head.pid)
        procs[root.pid] = root
        procs.update({p.pid: p for p in root.children(recursive=True)})
    except psutil.Error:
        pass
    # Ray's workers and agents may have left the group; their command lines name our temp dir.
    procs.update({p.pid: p for p in psutil.process_iter() if _names(p, temp_dir)})
    for proc in procs.values():
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(list(procs.values()), timeout=10)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=10)
    with contextlib.suppress(OSError):
        os.killpg(head.pid, signal.SIGKILL)
    head.wait(timeout=10)


def _argv(ray_bin: Path, temp_dir: str, dashboard_port: int, num_cpus: int) -> list[str]:
    argv = [str(ray_bin), "start", "--head", "--block", "--node-ip-address=127.0.0.1"]
    argv += [f"{flag}={_free_port()}" for flag in _PORT_FLAGS]
    return [
        *argv,
        f"--dashboard-port={dashboard_port}",
        "--dashboard-host=127.0.0.1",
        "--include-dashboard=true",
        f"--num-cpus={num_cpus}",
        "--object-store-memory=100000000",
        "--disable-usage-stats",
        f"--temp-dir={temp_dir}",
    ]


@contextlib.contextmanager
def local_ray_head(temp_root: Path | None = None, num_cpus: int = 1) -> Iterator[str]:
    """Start a Ray head, yield its dashboard URL (``http://127.0.0.1:<port>``, the address
    of the Ray Jobs API) once the Jobs API answers, and kill the head on leaving.

    ``temp_root`` is where its temp dir is made (default ``/tmp``): keep it short, Ray's
    socket paths below it must fit in ~107 bytes. Raises :class:`InvalidArgument` when Ray
    is not installed and :class:`Unavailable`, with the end of the head's log, when it does
    not start within two minutes.
    """
    ray_bin = ray_executable()
    if not ray_bin.exists():
        raise InvalidArgument(f"Ray is not installed ({ray_bin} not found): pip install 'shipyard[ray]'")
    # mkdtemp's name is unpredictable and mode 0700; /tmp rather than $TMPDIR keeps it short.
    temp_dir = tempfile.mkdtemp(prefix="shipyard-ray-", dir=str(temp_root or "/tmp"))  # noqa: S108
    dashboard_port = _free_port()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1"}
    log_path = Path(temp_dir) / "head.log"
    with log_path.open("wb") as log:
        head = subprocess.Popen(
            _argv(ray_bin, temp_dir, dashboard_port, num_cpus),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    address = f"http://127.0.0.1:{dashboard_port}"
    try:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not _answers(f"{address}/api/jobs/"):
            if head.poll() is not None or time.monotonic() > deadline:
                why = "exited" if head.poll() is not None else f"did not answer in {_START_TIMEOUT_S:.0f} s"
                tail = log_path.read_text(errors="replace")[-_LOG_TAIL_CHARS:]
                raise Unavailable(f"the local Ray head {why}; the end of {log_path}:\n{tail}")
            time.sleep(0.2)
        yield address
    finally:
        _kill_head(head, temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)
