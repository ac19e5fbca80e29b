"""A real local Ray head for the ``ray`` compute target, started once per test session.

Every port is chosen free (so two sessions on one machine do not collide), the temp dir is
unique, usage stats are off, and teardown kills exactly the processes this head started —
the ``ray start --block`` process group, its descendants, and anything whose command line
names our temp dir — never ``ray stop``, which would stop every Ray on the machine.
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
import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ours(proc: psutil.Process, temp_dir: str) -> bool:
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
    procs.update({p.pid: p for p in psutil.process_iter() if _ours(p, temp_dir)})
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


@pytest.fixture(scope="session")
def ray_address() -> Iterator[str]:
    ray_bin = Path(sys.executable).with_name("ray")
    if not ray_bin.exists():
        pytest.skip("ray is not installed: pip install 'shipyard[ray]' (it is in the test extra)")
    # Ray's socket paths must stay short (AF_UNIX limit ~107 bytes): a short temp dir.
    temp_dir = tempfile.mkdtemp(prefix="shipyard-ray-", dir="/tmp")
    dashboard_port = _free_port()
    ports = {
        "--port": _free_port(),
        "--dashboard-port": dashboard_port,
        "--node-manager-port": _free_port(),
        "--object-manager-port": _free_port(),
        "--ray-client-server-port": _free_port(),
        "--dashboard-agent-listen-port": _free_port(),
        "--dashboard-agent-grpc-port": _free_port(),
        "--runtime-env-agent-port": _free_port(),
        "--metrics-export-port": _free_port(),
    }
    argv = [str(ray_bin), "start", "--head", "--block", "--node-ip-address=127.0.0.1"]
    argv += [f"{flag}={port}" for flag, port in ports.items()]
    argv += [
        "--dashboard-host=127.0.0.1",
        "--include-dashboard=true",
        "--num-cpus=1",
        "--object-store-memory=100000000",
        "--disable-usage-stats",
        f"--temp-dir={temp_dir}",
    ]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1"}
    log_path = Path(temp_dir) / "head.log"
    with open(log_path, "wb") as log:
        head = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    address = f"http://127.0.0.1:{dashboard_port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{address}/api/jobs/", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if head.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Ray head did not start:\n{log_path.read_text(errors='replace')[-4000:]}")
            time.sleep(0.5)
        yield address
    finally:
        _kill_head(head, temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)
