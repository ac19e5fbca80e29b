"""Backup during ingestion → restore → a diff of every record and artifact hash.

A real server takes metric batches (each with its Idempotency-Key) and artifact uploads
from two writers while ``shipyard backup create`` runs beside it; the backup is restored
into a new home (and, on PostgreSQL, a new database) and every table is compared with the
source's, read independently with SQLAlchemy:

- tables the writers do not touch are identical;
- the batches in the restored receipts include every batch acknowledged before the backup
  started and none sent after it ended, and the restored points are exactly those batches'
  points, each batch whole (a snapshot, not a smear);
- each restored series' aggregates, and its chart rollups, are those of its restored points;
- the restored artifact index is a subset of the source's, with the same bounds, and the
  restored store holds exactly its files, each with its recorded hash;
- the restored audit log is a prefix of the source's, its head the prefix's end.

Then a server on the restored home answers the same history, bytes and an intact audit chain.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from shipyard.stores.sql.tables import metadata
from tests.conftest import ADMIN_TOKEN, AUTH, PG_URL, ServerProcess, _admin_url

pytestmark = pytest.mark.slow

BATCH = 100  # points per batch: batch i of a run holds steps [i*BATCH, (i+1)*BATCH)
GROWING = {
    "metric_points",
    "metric_series",
    "metric_rollups",
    "ingest_receipts",
    "artifacts",
    "audit_log",
    "audit_head",
}


def _value(run: int, step: int) -> float:
    return run + 1 / (step + 1)


def _artifact(run: int, i: int) -> bytes:
    return f"run {run} file {i}\n".encode() * (i % 7 + 1)


@dataclass
class Writer:
    """One run's writer: a metric batch per turn, an artifact every fourth; each acknowledgement timed."""

    url: str
    number: int
    run_id: str = ""
    acked: dict[str, float] = field(default_factory=dict)  # receipt key → when the 2xx came
    sent: dict[str, float] = field(default_factory=dict)  # receipt key → when it was sent
    files: dict[str, tuple[float, float]] = field(default_factory=dict)  # path → (sent, acked)
    error: BaseException | None = None

    def key(self, i: int) -> str:
        return f"w{self.number}-{self.run_id[:8]}-{i:06d}"

    def run(self, stop: threading.Event) -> None:
        try:
            with httpx.Client(base_url=self.url, headers=AUTH, timeout=30) as http:
                i = 0
                while not stop.is_set():
                    steps = list(range(i * BATCH, (i + 1) * BATCH))
                    body = {
                        "metrics": [
                            {
                                "key": "loss",
                                "steps": steps,
                                "values": [_value(self.number, s) for s in steps],
                                "timestamps": [1_700_000_000_000 + s for s in steps],
                            }
                        ]
                    }
                    key = self.key(i)
                    self.sent[key] = time.monotonic()
                    answer = http.post(
                        f"/api/v1/runs/{self.run_id}/metrics", json=body, headers={"Idempotency-Key": key}
                    )
                    answer.raise_for_status()
                    self.acked[key] = time.monotonic()
                    if i % 4 == 0:
                        path = f"files/{i:06d}.bin"
                        sent = time.monotonic()
                        http.put(
                            f"/api/v1/runs/{self.run_id}/artifacts/{path}", content=_artifact(self.number, i)
                        ).raise_for_status()
                        self.files[path] = (sent, time.monotonic())
                    i += 1
        except BaseException as exc:  # reported by the test
            self.error = exc


def _until(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
                for t in metadata.sorted_tables
            }
    finally:
        engine.dispose()


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "shipyard", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return done


@pytest.fixture
def fresh_pg() -> Iterator[list[str]]:
    """Fresh PostgreSQL databases made on demand (call ``make()``), dropped afterwards."""
    if not PG_URL:
        pytest.skip("SHIPYARD_TEST_DATABASE_URL is not set")
    admin = create_engine(_admin_url(PG_URL), isolation_level="AUTOCOMMIT")
    made: list[str] = []
    yield made
    with admin.connect() as conn:
        for name in made:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _new_pg(made: list[str]) -> str:
    assert PG_URL
    name = f"shipyard_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_admin_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    made.append(name)
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_backup_taken_during_ingestion_restores_exactly_its_snapshot(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    home, restored_home = tmp_path / "home", tmp_path / "restored"
    if backend == "postgresql":
        made: list[str] = request.getfixturevalue("fresh_pg")
        source_url, target_url = _new_pg(made), _new_pg(made)
    else:
        source_url, target_url = (
            f"sqlite:///{home / 'shipyard.db'}",
            f"sqlite:///{restored_home / 'shipyard.db'}",
        )
    db_args = ["--database-url", source_url] if backend == "postgresql" else []
    server = ServerProcess(home, db_args).start()
    stop = threading.Event()
    writers: list[Writer] = []
    try:
        with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as http:
            experiment = http.post("/api/v1/experiments", json={"name": "ingest"}).json()["id"]
            for n in range(2):
                run = http.post("/api/v1/runs", json={"experiment_id": experiment, "name": f"w{n}"}).json()
                writers.append(Writer(server.url, n, run_id=run["id"]))
        threads = [threading.Thread(target=w.run, args=(stop,)) for w in writers]
        for thread in threads:
            thread.start()
        # Busy on both sides of the backup: waited for, not slept for (a loaded machine is slow).
        _until(lambda: all(w.acked for w in writers), "each writer's first acknowledged batch")
        backup = tmp_path / "during.tar"
        started = time.monotonic()
        _cli("backup", "create", "--to", str(backup), "--home", str(home), *db_args)
        ended = time.monotonic()
        _until(lambda: all(max(w.sent.values()) > ended for w in writers), "a batch sent after the backup")
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        for w in writers:
            assert w.error is None, w.error
        source = _dump(source_url)
    finally:
        stop.set()
        server.stop()

    restore_args = ["--database-url", target_url] if backend == "postgresql" else []
    _cli("backup", "restore", str(backup), "--home", str(restored_home), *restore_args)
    restored = _dump(target_url)

    _compare(source, restored, writers, started, ended, restored_home / "artifacts")
    _ask_a_restored_server(restored_home, restore_args, writers, restored)


def _compare(
    source: dict[str, list[tuple[Any, ...]]],
    restored: dict[str, list[tuple[Any, ...]]],
    writers: list[Writer],
    started: float,
    ended: float,
    store: Path,
) -> None:
    for table in set(source) - GROWING:
        assert restored[table] == source[table], f"table {table} differs"

    receipts = {r[0] for r in restored["ingest_receipts"]}
    assert set(restored["ingest_receipts"]) <= set(source["ingest_receipts"])
    for w in writers:
        before = {k for k, at in w.acked.items() if at < started}
        after = {k for k, at in w.sent.items() if at > ended}
        assert before <= receipts, (
            f"acknowledged before the backup began, not restored: {sorted(before - receipts)[:3]}"
        )
        assert not (after & receipts), "sent after the backup ended, yet restored"
        assert before and after, "the writers must have been busy on both sides of the backup"

    # Points: exactly those of the restored batches, each batch whole.
    pk_of_run = {r[1]: r[0] for r in source["runs"]}  # run id → pk
    series = {r[0]: r for r in source["metric_series"]}
    batch_key = {}
    for w in writers:
        pk = pk_of_run[w.run_id]
        for sid, row in series.items():
            if row[1] == pk:
                batch_key[sid] = w
    expected = [p for p in source["metric_points"] if batch_key[p[1]].key(p[2] // BATCH) in receipts]
    assert restored["metric_points"] == expected
    assert len(expected) == BATCH * len(receipts)

    by_series: dict[int, list[tuple[Any, ...]]] = {}
    for p in restored["metric_points"]:
        by_series.setdefault(p[1], []).append(p)
    for row in restored["metric_series"]:
        points = by_series[row[0]]
        values = [p[4] for p in points]
        last = max(points, key=lambda p: (p[2], p[0]))
        assert row[:3] == series[row[0]][:3]
        assert (row[3], row[4], row[5]) == (last[4], last[2], last[3])
        assert (row[6], row[7], row[8]) == (min(values), max(values), len(points))
    _check_rollups(restored, by_series)

    index = restored["artifacts"]
    assert set(index) <= set(source["artifacts"])
    uris = {r[0]: r[9] for r in source["runs"]}  # pk → artifact_uri
    paths = {(w.run_id, row[1]) for w in writers for row in index if row[0] == pk_of_run[w.run_id]}
    for w in writers:
        before = {p for p, (_, acked) in w.files.items() if acked < started}
        after = {p for p, (sent, _) in w.files.items() if sent > ended}
        assert {(w.run_id, p) for p in before} <= paths
        assert not {(w.run_id, p) for p in after} & paths
    on_disk = {
        p.relative_to(store).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in store.rglob("*")
        if p.is_file() and ".staging" not in p.parts
    }
    assert on_disk == {f"{uris[row[0]]}/{row[1]}": row[3] for row in index}

    audit = restored["audit_log"]
    assert audit == source["audit_log"][: len(audit)]
    assert restored["audit_head"] == [(1, audit[-1][0], audit[-1][-1])]


def _check_rollups(
    restored: dict[str, list[tuple[Any, ...]]], by_series: dict[int, list[tuple[Any, ...]]]
) -> None:
    """A series past ROLLUP_FROM points has exactly the rollups of its restored points (each
    block's first lowest and highest point), at every level; a smaller one has none."""
    from shipyard.stores.sql.metrics import ROLLUP_FROM, ROLLUP_SHIFTS, _blocks, _coarser

    held: dict[int, set[tuple[Any, ...]]] = {}
    for row in restored["metric_rollups"]:
        held.setdefault(row[0], set()).add(tuple(row[1:]))
    for sid, points in by_series.items():
        if len(points) <= ROLLUP_FROM:
            assert sid not in held, f"series {sid} has {len(points)} points and rollups"
            continue
        ordered = sorted(points, key=lambda p: (p[2], p[0]))  # step, then the order logged
        level = _blocks([p[2] for p in ordered], [p[3] for p in ordered], [p[4] for p in ordered])
        expected: set[tuple[Any, ...]] = set()
        for index, shift in enumerate(ROLLUP_SHIFTS):
            if index:
                level = _coarser(level, shift - ROLLUP_SHIFTS[index - 1])
            expected |= {(shift, bucket, *block) for bucket, block in level.items()}
        assert held.get(sid) == expected, f"series {sid}: rollups differ from its points'"


def _ask_a_restored_server(
    home: Path, args: list[str], writers: list[Writer], restored: dict[str, list[tuple[Any, ...]]]
) -> None:
    server = ServerProcess(home, args).start()
    try:
        with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as http:
            for w in writers:
                history = http.get(f"/api/v1/runs/{w.run_id}/metrics/history", params={"key": "loss"}).json()
                series = _series_of(restored, w.run_id)
                assert history["total"] == sum(1 for p in restored["metric_points"] if p[1] == series)
                assert history["values"] == [_value(w.number, s) for s in history["steps"]]
                listed = http.get(f"/api/v1/runs/{w.run_id}/artifacts", params={"path": "files"}).json()
                first = listed["files"][0]["path"]
                got = http.get(f"/api/v1/runs/{w.run_id}/artifacts/{first}").content
                assert got == _artifact(w.number, int(first.rsplit("/", 1)[1].split(".")[0]))
        verify = _cli("audit", "verify", "--url", server.url, env={"SHIPYARD_TOKEN": ADMIN_TOKEN})
        assert verify.stdout.startswith("audit log intact"), verify.stdout
    finally:
        server.stop()


def _series_of(dump: dict[str, list[tuple[Any, ...]]], run_id: str) -> int:
    pk = next(r[0] for r in dump["runs"] if r[1] == run_id)
    return int(next(r[0] for r in dump["metric_series"] if r[1] == pk))
