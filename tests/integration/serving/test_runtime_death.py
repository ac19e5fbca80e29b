"""A runtime that dies without stopping its workers (SIGKILL, OOM) takes them with it, and the
next runtime on the same folder never serves beside one of them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from shipyard.services.serving_ports import DeploymentKey
from shipyard.serving.local import LocalProcessRuntime

from ._helpers import client, script_plan, socket_path

KEY = DeploymentKey("default", "custom", "mortal")

# A server as far as its workers can tell: a process holding a runtime, killed with -9.
HOST = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from shipyard.serving.local import LocalProcessRuntime
    from shipyard.services.serving_ports import DeploymentKey
    sys.path.insert(0, sys.argv[4])
    from _helpers import script_plan

    runtime = LocalProcessRuntime(Path(sys.argv[1]))
    key = DeploymentKey("default", "custom", "mortal")
    runtime.apply(script_plan(key, Path(sys.argv[2]), Path(sys.argv[3]), instance_count=2))
    for instance in runtime.wait_ready(key, 60):
        print(instance.index, instance.pid, instance.address, flush=True)
    sys.stdin.read()  # until killed
    """
)


def alive(pid: int) -> bool:
    """Running, stopped or sleeping; not a zombie waiting for init to reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def workers_of(state_dir: Path) -> dict[int, list[int]]:
    """Every live worker process started on ``state_dir``, by instance index."""
    found: dict[int, list[int]] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        if (
            "shipyard.serving.worker" in argv
            and any(str(state_dir) in a for a in argv)
            and alive(int(proc.name))
        ):
            found.setdefault(int(argv[argv.index("--index") + 1]), []).append(int(proc.name))
    return found


def start_host(
    state_dir: Path, custom_model: tuple[Path, Path]
) -> tuple[subprocess.Popen[str], dict[int, tuple[int, str]]]:
    host = subprocess.Popen(
        [sys.executable, "-c", HOST, str(state_dir), *map(str, custom_model), str(Path(__file__).parent)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert host.stdout is not None
    instances = {}
    for _ in range(2):
        index, pid, address = host.stdout.readline().split()
        instances[int(index)] = (int(pid), address)
    return host, instances


def kill(host: subprocess.Popen[str]) -> None:
    host.kill()
    host.wait()
    assert host.stdin is not None and host.stdout is not None
    host.stdin.close()
    host.stdout.close()


pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc to find the workers")


def test_the_workers_of_a_killed_runtime_stop_by_themselves(
    tmp_path: Path, custom_model: tuple[Path, Path]
) -> None:
    host, instances = start_host(tmp_path / "state", custom_model)
    pids = [pid for pid, _address in instances.values()]
    with client(instances[0][1]) as c:
        assert c.post("/score", json={"data": [1]}).json() == [2.0]
    kill(host)
    # They watch a pipe the runtime held (EOF at its death) and stop within 2 s; the
    # deadline only keeps a failure from hanging the suite.
    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in pids if alive(p)], "workers outlived their runtime"


def test_a_new_runtime_kills_the_dead_ones_workers_before_it_starts_its_own(
    tmp_path: Path, custom_model: tuple[Path, Path]
) -> None:
    state = tmp_path / "state"
    host, instances = start_host(state, custom_model)
    # Stopped, an orphan cannot notice its runtime is gone: only the next runtime can help.
    for pid, _address in instances.values():
        os.kill(pid, signal.SIGSTOP)
    kill(host)
    assert workers_of(state) == {0: [instances[0][0]], 1: [instances[1][0]]}

    runtime = LocalProcessRuntime(state)
    try:
        # Before a single plan is applied: the orphans are gone, and so are their sockets.
        assert workers_of(state) == {}
        assert not any(os.path.exists(socket_path(address)) for _pid, address in instances.values())
        assert len(list((state / "owners").iterdir())) == 1  # ours: the dead one's folder is gone
        runtime.apply(script_plan(KEY, *custom_model, instance_count=2))
        ready = {i.index: i for i in runtime.wait_ready(KEY, 60)}
        assert workers_of(state) == {0: [ready[0].pid], 1: [ready[1].pid]}
        with client(ready[1].address) as c:
            assert c.post("/score", json={"data": [3]}).json() == [6.0]
    finally:
        runtime.close()
        for pid, _address in instances.values():  # had the reaping failed: leave nothing behind
            if alive(pid):
                os.killpg(pid, signal.SIGKILL)
    assert workers_of(state) == {}
    assert not (state / "owners").exists() or list((state / "owners").iterdir()) == []


def test_a_live_runtime_on_the_same_folder_keeps_its_workers(
    tmp_path: Path, custom_model: tuple[Path, Path]
) -> None:
    """A scoring replica may share the folder: only a dead runtime's workers are orphans."""
    state = tmp_path / "state"
    first = LocalProcessRuntime(state)
    try:
        first.apply(script_plan(KEY, *custom_model))
        (instance,) = first.wait_ready(KEY, 60)
        second = LocalProcessRuntime(state)
        second.close()
        assert instance.pid is not None and alive(instance.pid)
        with client(instance.address) as c:
            assert c.post("/score", json={"data": [2]}).json() == [4.0]
    finally:
        first.close()
