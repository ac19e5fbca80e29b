"""Outages as users meet them, with real servers stopped and started again on the same home
and port: a training script logging straight through one (0 points lost), a script that
exits before the server is back (its points sent later by `shipyard run replay`), and a
server killed under a deployment (its workers go with it; the restart runs one per instance).

``SHIPYARD_OUTAGE_TEST_S`` sets the outage (default 12 s: four times the ~3 s after which the
SDK used to drop points); ``benchmarks/outage.py`` runs the 60 s one and reports figures.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from shipyard.client._spill import LOST_POINTS_TAG
from shipyard.client.client import Client
from tests.conftest import ADMIN_TOKEN, ServerProcess

pytestmark = pytest.mark.slow

OUTAGE_S = float(os.environ.get("SHIPYARD_OUTAGE_TEST_S", "12"))

# Logs two metrics per step as fast as a small training loop would (~1,000 steps/s) until
# told to stop, noting its progress; then ends the run and prints what it logged.
TRAINER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    import shipyard

    url, folder = sys.argv[1], Path(sys.argv[2])
    shipyard.connect(url)
    step = 0
    with shipyard.start_run(experiment="outage", name="through-it") as run:
        while not (folder / "stop").exists():
            run.log_metrics({"loss": 1 / (step + 1), "acc": step / 1e6}, step=step)
            step += 1
            if step % 100 == 0:
                (folder / "progress").write_text(str(step))
                time.sleep(0.05)
    print(json.dumps({"run_id": run.id, "steps": step}))
    """
)


def env_for(spill: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "SHIPYARD_TOKEN": ADMIN_TOKEN, "SHIPYARD_SPILL_DIR": str(spill), **extra}


def progress(folder: Path) -> int:
    try:
        return int((folder / "progress").read_text() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def wait_for_progress(folder: Path, beyond: int, proc: subprocess.Popen[str], timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while progress(folder) <= beyond:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the script stopped logging"
        time.sleep(0.05)
    return progress(folder)


def port_of(server: ServerProcess) -> int:
    port = urlsplit(server.url).port
    assert port is not None
    return port


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "signals").mkdir()
    return tmp_path / "signals"


@pytest.fixture
def first(tmp_path: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path / "home").start()
    yield server
    server.stop(signal.SIGKILL)


def restart(stopped: ServerProcess) -> ServerProcess:
    """The same home and port, as a supervisor (systemd, a container) would bring it back."""
    return ServerProcess(stopped.home, args=["--port", str(port_of(stopped))]).start()


def test_a_script_logs_straight_through_an_outage_and_loses_nothing(
    first: ServerProcess, folder: Path, tmp_path: Path
) -> None:
    spill = tmp_path / "spill"
    trainer = subprocess.Popen(
        [sys.executable, "-c", TRAINER, first.url, str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env_for(spill),
    )
    second: ServerProcess | None = None
    try:
        before = wait_for_progress(folder, 2000, trainer)
        first.stop(signal.SIGKILL)  # answers in flight are lost with it: their batches are replayed
        outage_began = time.monotonic()
        during = wait_for_progress(folder, before + 2000, trainer)  # the loop never waits on it
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - outage_began)))
        assert list(spill.glob("*.spill")), "nothing was kept while the server was down"
        second = restart(first)
        wait_for_progress(folder, progress(folder) + 2000, trainer)
        (folder / "stop").touch()
        out, err = trainer.communicate(timeout=120)
    except BaseException:
        if second is not None:
            second.stop()
        raise
    finally:
        if trainer.poll() is None:
            trainer.kill()
            trainer.communicate()
    assert second is not None
    try:
        assert trainer.returncode == 0, err
        logged = json.loads(out)
        assert logged["steps"] > during
        with Client(second.url) as client:
            run = client.get_run(logged["run_id"])
            assert run.status == "FINISHED"
            assert LOST_POINTS_TAG not in run.tags
            for key in ("loss", "acc"):
                history = client.get_metric_history(run.id, key)
                assert history.steps == list(range(logged["steps"])), f"{key}: points lost or doubled"
            assert client.get_metric_history(run.id, "loss").values[-1] == 1 / logged["steps"]
        assert "cannot be reached" in err and "answers again after" in err, err
        assert "LOST" not in err
        assert list(spill.glob("*.spill")) == []
    finally:
        second.stop()


ENDS_DURING_THE_OUTAGE = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import shipyard

    url, folder = sys.argv[1], Path(sys.argv[2])
    shipyard.connect(url)
    run = shipyard.start_run(experiment="outage", name="gone-before-it")
    print(run.id, flush=True)
    for step in range(5000):
        run.log_metric("loss", step / 10, step=step)
    run.flush()
    (folder / "half").touch()
    while not (folder / "go").exists():
        time.sleep(0.02)
    for step in range(5000, 12_000):
        run.log_metric("loss", step / 10, step=step)
    # no end(): the atexit hook waits SHIPYARD_OUTAGE_WAIT seconds, then keeps it all
    """
)


def test_points_of_a_script_that_exits_during_the_outage_are_sent_by_run_replay(
    first: ServerProcess, folder: Path, tmp_path: Path
) -> None:
    spill = tmp_path / "spill"
    script = subprocess.Popen(
        [sys.executable, "-c", ENDS_DURING_THE_OUTAGE, first.url, str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env_for(spill, SHIPYARD_OUTAGE_WAIT="1"),
    )
    try:
        deadline = time.monotonic() + 60
        while not (folder / "half").exists():
            assert script.poll() is None and time.monotonic() < deadline, script.communicate()
            time.sleep(0.02)
        first.stop(signal.SIGKILL)
        (folder / "go").touch()
        out, err = script.communicate(timeout=120)
    finally:
        if script.poll() is None:
            script.kill()
            script.communicate()
    assert script.returncode == 0, err
    run_id = out.strip()
    (kept,) = spill.glob("*.spill")
    assert f"run {run_id} is not ended" in err and "7000 metric points are kept in" in err, err
    assert "`shipyard run replay` sends them once the server is back" in err

    second = restart(first)
    try:
        env = env_for(spill, SHIPYARD_URL=second.url)
        cli = [sys.executable, "-m", "shipyard", "run", "replay"]
        done = subprocess.run(cli, capture_output=True, text=True, env=env, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        assert done.stdout == f"run {run_id}: 7,000 points sent, ended FINISHED ({kept.name} removed)\n"
        with Client(second.url) as client:
            assert client.get_run(run_id).status == "FINISHED"
            assert client.get_metric_history(run_id, "loss").steps == list(range(12_000))
        again = subprocess.run(cli, capture_output=True, text=True, env=env, timeout=60, check=False)
        assert (again.returncode, again.stdout) == (0, f"nothing to send: no spill file left in {spill}\n")
        # Bad input: a file that is not a spill file is named, nothing is sent.
        stray = tmp_path / "notes.txt"
        stray.write_text("hello\n")
        bad = subprocess.run(
            [*cli, str(stray)], capture_output=True, text=True, env=env, timeout=60, check=False
        )
        assert bad.returncode == 1
        assert f"{stray}: {stray} is not a Shipyard spill file" in bad.stderr
        assert "error: 1 file could not be sent and stay where they are (UNAVAILABLE)" in bad.stderr
    finally:
        second.stop()


SCORE = "def init():\n    pass\n\ndef run(raw_data):\n    return {'ok': raw_data}\n"
DEPLOYMENT = """\
name: blue
endpoint_name: durable
model:
  path: model
code_configuration:
  code: code
  scoring_script: score.py
instance_count: 2
readiness_probe:
  initial_delay: 0
  period: 1
"""


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def workers_of(home: Path) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        if "shipyard.serving.worker" in argv and any(str(home) in a for a in argv) and alive(int(proc.name)):
            found.setdefault(int(argv[argv.index("--index") + 1]), []).append(int(proc.name))
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc to find the workers")
def test_a_killed_servers_workers_go_with_it_and_the_restart_runs_one_per_instance(
    first: ServerProcess, tmp_path: Path
) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "weights.txt").write_text("w")
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "score.py").write_text(SCORE)
    (tmp_path / "ep.yml").write_text("name: durable\nauth_mode: key\n")
    (tmp_path / "blue.yml").write_text(DEPLOYMENT)
    env = env_for(tmp_path / "spill", SHIPYARD_URL=first.url)
    for args in (
        ["online-endpoint", "create", "-f", "ep.yml"],
        ["online-deployment", "create", "-f", "blue.yml", "--all-traffic"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "shipyard", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=240,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    before = workers_of(first.home)
    assert sorted(before) == [0, 1] and all(len(p) == 1 for p in before.values()), before

    first.stop(signal.SIGKILL)
    deadline = time.monotonic() + 10  # they stop within 2 s; this only bounds a failure
    while workers_of(first.home) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert workers_of(first.home) == {}, "workers outlived their server"

    second = restart(first)
    try:
        with Client(second.url) as client:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                logs = client.online_deployments.get_logs("durable", "blue", lines=1000)
                if logs.count("every worker is ready") >= 2:
                    break
                time.sleep(0.3)
            after = workers_of(first.home)
            assert sorted(after) == [0, 1] and all(len(p) == 1 for p in after.values()), after
            assert not {p for ps in after.values() for p in ps} & {p for ps in before.values() for p in ps}
            answer = client.online_endpoints.invoke("durable", _request(tmp_path))
            assert answer == {"ok": '{"x": 1}'}
    finally:
        second.stop()
    assert workers_of(first.home) == {}


def _request(tmp_path: Path) -> str:
    path = tmp_path / "request.json"
    path.write_text('{"x": 1}')
    return str(path)
