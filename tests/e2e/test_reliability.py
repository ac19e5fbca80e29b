"""Reliability on the embedded default (SQLite): many writers at once, and a server killed mid-stream.

The loggers are separate OS processes running the SDK, the way training scripts would.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

import shipyard
from shipyard.client._batcher import encode_batch
from shipyard.client.client import Client
from tests.conftest import ServerProcess

pytestmark = pytest.mark.slow

WORKERS, KEYS, STEPS, FLUSH_EVERY = 8, 5, 2000, 250

# Each worker announces it is ready, waits for the go signal so all of them log at the same
# moment, then logs KEYS x STEPS points, params and tags through the batched SDK.
WORKER = """
import json, sys, time
from pathlib import Path
import shipyard

url, index, folder = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
keys, steps, flush_every = (int(x) for x in sys.argv[4:7])
shipyard.connect(url)
(folder / f"ready-{index}").touch()
while not (folder / "go").exists():
    time.sleep(0.01)
with shipyard.start_run(
    experiment="crowd", name=f"worker-{index}", params={"worker": index}, tags={"wave": "1"}
) as run:
    for step in range(steps):
        run.log_metrics({f"m{k}": index * 1e6 + k * 1e4 + step for k in range(keys)}, step=step)
        if step % flush_every == 0:
            run.log_params({f"p{step}": step})
            run.set_tags({"progress": step})
            run.flush()
print(json.dumps({"run_id": run.id}))
"""


def expected(index: int, k: int, step: int) -> float:
    return index * 1e6 + k * 1e4 + step


def test_eight_processes_log_at_once_without_errors_or_losses(server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "signals"
    folder.mkdir()
    args = [str(KEYS), str(STEPS), str(FLUSH_EVERY)]
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, server.url, str(i), str(folder), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(WORKERS)
    ]
    try:
        deadline = time.monotonic() + 60
        while len(list(folder.glob("ready-*"))) < WORKERS and time.monotonic() < deadline:
            time.sleep(0.05)
        (folder / "go").touch()
        results = [w.communicate(timeout=120) for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.communicate()
    for i, (w, (_out, err)) in enumerate(zip(workers, results, strict=True)):
        assert w.returncode == 0, f"worker {i} failed:\n{err}"
        assert "locked" not in err.lower() and "error" not in err.lower(), f"worker {i}:\n{err}"
    server_log = "".join(server.output)
    for word in ("locked", "Traceback", "UNAVAILABLE", "unhandled"):
        assert word not in server_log, server_log

    client = Client(server.url)
    run_ids = {json.loads(out)["run_id"]: i for i, (out, _err) in enumerate(results)}
    crowd = client.get_experiment_by_name("crowd")
    assert [e.name for e in client.list_experiments()].count("crowd") == 1
    assert {r.id for r in client.search_runs([crowd.id])} == set(run_ids)
    for run_id, index in run_ids.items():
        run = client.get_run(run_id)
        assert run.status == "FINISHED"
        assert run.params == {"worker": str(index)} | {f"p{s}": str(s) for s in range(0, STEPS, FLUSH_EVERY)}
        assert run.tags == {"wave": "1", "progress": str(STEPS - FLUSH_EVERY)}
        assert sorted(run.metrics) == [f"m{k}" for k in range(KEYS)]
        for k in range(KEYS):
            summary = run.metrics[f"m{k}"]
            assert (summary.count, summary.step) == (STEPS, STEPS - 1)
            assert (summary.min, summary.max) == (expected(index, k, 0), expected(index, k, STEPS - 1))
            history = client.get_metric_history(run_id, f"m{k}")
            assert history.steps == list(range(STEPS))
            assert history.values == [expected(index, k, s) for s in range(STEPS)]
    client.close()


# -- kill -9 in the middle of ingestion -------------------------------------------------

BATCH = 500
T0 = 1_700_000_000_000

# Logs synchronously and appends "<batch> <first step> <end step>" to the ack file, fsynced,
# only after the server answered 2xx: the file is exactly what the server acknowledged.
ACKER = """
import os, sys
from shipyard.client._batcher import encode_batch
from shipyard.client.client import Client

url, run_id, ack_path, size, t0 = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
client = Client(url, timeout=10)
fd = os.open(ack_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
for i in range(1_000_000):
    start = i * size
    points = [("loss", s * 0.5, s, t0 + s) for s in range(start, start + size)]
    try:
        client.log_metric_batch(run_id, encode_batch(points), f"ack-{run_id[:8]}-{i:07d}")
    except Exception as exc:
        print(f"stopped after {i} batches: {exc!r}", file=sys.stderr)
        break
    os.write(fd, f"{i} {start} {start + size}\\n".encode())
    os.fsync(fd)
"""


def batch_payload(index: int) -> bytes:
    start = index * BATCH
    return encode_batch([("loss", s * 0.5, s, T0 + s) for s in range(start, start + BATCH)])


@dataclass
class Crash:
    server: ServerProcess
    run_id: str
    acked: list[tuple[int, int, int]]  # (batch, first step, end step)
    first_output: str
    schema_before: list[tuple[str, str, str]]

    def key(self, batch: int) -> str:
        return f"ack-{self.run_id[:8]}-{batch:07d}"


def _schema(db: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
        rows += conn.execute("SELECT 'version', version_num, '' FROM alembic_version").fetchall()
    conn.close()
    return rows


def _acks(path: Path) -> list[tuple[int, int, int]]:
    lines = path.read_text().splitlines() if path.exists() else []
    return [
        (int(a), int(b), int(c)) for a, b, c in (line.split() for line in lines if len(line.split()) == 3)
    ]


@pytest.fixture(scope="module")
def crash(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crash]:
    """A server SIGKILLed while a client streams acknowledged batches, then restarted."""
    root = tmp_path_factory.mktemp("crash")
    home = root / "home"
    first = ServerProcess(home).start()
    restarted: ServerProcess | None = None
    acker: subprocess.Popen[str] | None = None
    try:
        client = Client(first.url)
        run = client.create_run(client.create_experiment("crash").id, name="streaming")
        client.close()
        schema_before = _schema(home / "shipyard.db")
        ack_file = root / "acks.txt"
        acker = subprocess.Popen(
            [sys.executable, "-c", ACKER, first.url, run.id, str(ack_file), str(BATCH), str(T0)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while len(_acks(ack_file)) < 30 and time.monotonic() < deadline and acker.poll() is None:
            time.sleep(0.01)
        assert len(_acks(ack_file)) >= 30, acker.stderr.read() if acker.poll() is not None else "too slow"
        assert first.stop(signal.SIGKILL) == -signal.SIGKILL
        acker.kill()  # whatever it was sending was never acknowledged
        acker.communicate()
        restarted = ServerProcess(home).start()
        yield Crash(restarted, run.id, _acks(ack_file), "".join(first.output), schema_before)
    finally:
        if acker is not None and acker.poll() is None:
            acker.kill()
            acker.communicate()
        first.stop(signal.SIGKILL)
        if restarted is not None:
            restarted.stop()


def test_every_acknowledged_point_survives_sigkill(crash: Crash) -> None:
    client = Client(crash.server.url)
    history = client.get_metric_history(crash.run_id, "loss")
    acked_end = max(end for _i, _start, end in crash.acked)
    acked = {s for _i, start, end in crash.acked for s in range(start, end)}
    missing = acked - set(history.steps)
    assert not missing, f"{len(missing)} acknowledged points lost, first {min(missing)}"
    # Batches are all-or-nothing: the one in flight at the kill is there whole or not at all.
    assert history.steps == list(range(len(history.steps)))
    assert len(history.steps) in (acked_end, acked_end + BATCH)
    assert history.values == [s * 0.5 for s in history.steps]
    summary = client.get_run(crash.run_id).metrics["loss"]
    assert (summary.count, summary.step) == (len(history.steps), len(history.steps) - 1)
    client.close()


def test_replayed_batch_after_restart_stores_nothing(crash: Crash) -> None:
    client = Client(crash.server.url)
    before = client.get_metric_history(crash.run_id, "loss")
    for batch, _start, _end in (crash.acked[0], crash.acked[-1]):
        answer = client.log_metric_batch(crash.run_id, batch_payload(batch), crash.key(batch))
        assert answer == {"accepted": 0, "duplicate": True}
    after = client.get_metric_history(crash.run_id, "loss")
    assert (after.steps, after.total) == (before.steps, before.total)
    assert client.get_run(crash.run_id).metrics["loss"].count == len(before.steps)
    client.close()


def test_database_is_usable_after_restart(crash: Crash, tmp_path: Path) -> None:
    assert _schema(crash.server.home / "shipyard.db") == crash.schema_before  # migrations: no-op
    assert httpx.get(f"{crash.server.url}/healthz").json()["status"] == "ok"
    shipyard.connect(crash.server.url)
    with shipyard.start_run(experiment="after-crash", params={"resumed": True}) as run:
        for step in range(1000):
            run.log_metric("acc", step / 1000, step=step)
        run.log_text("fine", "notes/status.txt")
    client = Client(crash.server.url)
    got = client.get_run(run.id)
    assert (got.status, got.params, got.metrics["acc"].count) == ("FINISHED", {"resumed": "True"}, 1000)
    assert client.download_artifact(run.id, "notes/status.txt", tmp_path / "s.txt").read_text() == "fine"
    next_batch = max(i for i, _s, _e in crash.acked) + 2  # past the one that may have been in flight
    answer = client.log_metric_batch(crash.run_id, batch_payload(next_batch), crash.key(next_batch))
    assert answer == {"accepted": BATCH, "duplicate": False}
    assert client.get_metric_history(crash.run_id, "loss").steps[-1] == (next_batch + 1) * BATCH - 1
    client.close()
