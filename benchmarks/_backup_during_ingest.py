"""backup.py's consistency figure: ``shipyard backup create`` while two writers ingest into a
running server, restored, and compared with the source.

Each writer posts metric batches of 100 points (each with its ``Idempotency-Key``, which the
server keeps as a receipt in the batch's transaction) and an artifact every fourth batch,
noting when each was sent and acknowledged. After the restore, read with SQLAlchemy from both
databases:

- every table the writers do not touch: identical, row for row;
- receipts: every batch acknowledged before the backup began is restored, none sent after it
  ended is, and the restored points are exactly 100 per restored receipt (whole batches: a
  snapshot, not a smear);
- artifacts: every file in the restored store has the sha256 its index row records, and the
  index holds every upload acknowledged before the backup began and none sent after it.

Also the writers' pace while the backup ran against before it (what a backup costs them).
``tests/e2e/test_backup_during_ingest.py`` checks the same, and more, on every CI run.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, select

from _servers import Processes, start_shipyard
from shipyard.stores.sql.tables import metadata

ROOT = Path(__file__).resolve().parent.parent
BATCH = 100
WRITTEN = {"metric_points", "metric_series", "ingest_receipts", "artifacts", "audit_log", "audit_head"}


@dataclass
class Writer:
    url: str
    token: str
    run_id: str
    number: int
    sent: dict[str, float] = field(default_factory=dict)  # receipt key → when sent
    acked: dict[str, float] = field(default_factory=dict)  # receipt key → when its 2xx came
    files: dict[str, tuple[float, float]] = field(default_factory=dict)  # path → (sent, acked)
    error: BaseException | None = None

    def run(self, stop: threading.Event) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            with httpx.Client(base_url=self.url, headers=headers, timeout=60) as http:
                i = 0
                while not stop.is_set():
                    steps = list(range(i * BATCH, (i + 1) * BATCH))
                    body = {
                        "metrics": [
                            {
                                "key": "loss",
                                "steps": steps,
                                "values": [1 / (s + 1) for s in steps],
                                "timestamps": [1_700_000_000_000 + s for s in steps],
                            }
                        ]
                    }
                    key = f"w{self.number}-{i:06d}"
                    self.sent[key] = time.monotonic()
                    http.post(
                        f"/api/v1/runs/{self.run_id}/metrics", json=body, headers={"Idempotency-Key": key}
                    ).raise_for_status()
                    self.acked[key] = time.monotonic()
                    if i % 4 == 0:
                        path = f"files/{i:06d}.bin"
                        sent = time.monotonic()
                        http.put(
                            f"/api/v1/runs/{self.run_id}/artifacts/{path}", content=f"{key}\n".encode() * 64
                        ).raise_for_status()
                        self.files[path] = (sent, time.monotonic())
                    i += 1
        except BaseException as exc:  # reported by the caller
            self.error = exc


def _rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
                for t in metadata.sorted_tables
            }
    finally:
        engine.dispose()


def _cli(*args: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "shipyard", *args], capture_output=True, text=True, check=False, timeout=900
    )
    if done.returncode != 0:
        raise RuntimeError(f"shipyard {args[0]} {args[1]} failed: {done.stderr[-2000:]}")
    return time.perf_counter() - started


def measure(
    work: Path, source_url: str, target_url: str, db_args: list[str], seconds_before: float
) -> dict[str, Any]:
    """One backup during ingestion on ``source_url``, restored into ``target_url``; the checks."""
    home, restored = work / "ingest-home", work / "ingest-restored"
    with Processes() as procs:
        server = start_shipyard(procs, sys.executable, home, work / "ingest.log", ROOT, args=db_args)
        token = server.token or ""
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as http:
            experiment = http.post("/api/v1/experiments", json={"name": "ingest"}).json()["id"]
            runs = [
                http.post("/api/v1/runs", json={"experiment_id": experiment, "name": f"w{n}"}).json()["id"]
                for n in range(2)
            ]
        writers = [Writer(server.url, token, run, n) for n, run in enumerate(runs)]
        stop = threading.Event()
        threads = [threading.Thread(target=w.run, args=(stop,)) for w in writers]
        for thread in threads:
            thread.start()
        time.sleep(seconds_before)
        started = time.monotonic()
        create_s = _cli("backup", "create", "--to", str(work / "during.tar"), "--home", str(home), *db_args)
        ended = time.monotonic()
        time.sleep(1.0)
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
        for w in writers:
            if w.error is not None:
                raise RuntimeError(f"writer {w.number} failed: {w.error!r}")
        source = _rows(source_url)
    restore_args = ["--database-url", target_url] if db_args else []
    _cli("backup", "restore", str(work / "during.tar"), "--home", str(restored), *restore_args)
    back = _rows(target_url)
    return {
        "create_s": create_s,
        **_pace(writers, started, ended, seconds_before / 2),  # the first half is the writers' warm-up
        **_compare(source, back, writers, started, ended, restored / "artifacts"),
    }


def _pace(writers: list[Writer], started: float, ended: float, window: float) -> dict[str, float]:
    """Batches acknowledged per second while the backup ran, and in the ``window`` seconds
    just before it."""
    during = sum(1 for w in writers for at in w.acked.values() if started <= at < ended)
    before = sum(1 for w in writers for at in w.acked.values() if started - window <= at < started)
    return {"batches_per_s_before": before / window, "batches_per_s_during": during / (ended - started)}


def _compare(
    source: dict[str, list[tuple[Any, ...]]],
    back: dict[str, list[tuple[Any, ...]]],
    writers: list[Writer],
    started: float,
    ended: float,
    store: Path,
) -> dict[str, Any]:
    same = [t for t in source if t not in WRITTEN]
    receipts = {r[0] for r in back["ingest_receipts"]}
    acked_before = {k for w in writers for k, at in w.acked.items() if at < started}
    sent_after = {k for w in writers for k, at in w.sent.items() if at > ended}
    index = {(r[0], r[1]): r[3] for r in back["artifacts"]}
    uri = {r[0]: r[9] for r in back["runs"]}
    pk = {r[1]: r[0] for r in back["runs"]}
    files_before = {(pk[w.run_id], p) for w in writers for p, (_, a) in w.files.items() if a < started}
    files_after = {(pk[w.run_id], p) for w in writers for p, (s, _) in w.files.items() if s > ended}
    on_disk = {
        f.relative_to(store).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in store.rglob("*")
        if f.is_file() and ".staging" not in f.parts
    }
    return {
        "tables_compared": len(same),
        "rows_compared": sum(len(source[t]) for t in same),
        "tables_differing": [t for t in same if source[t] != back[t]],
        "batches_acked_before": len(acked_before),
        "batches_restored": len(receipts),
        "batches_in_source": len(source["ingest_receipts"]),
        "acked_before_missing": len(acked_before - receipts),
        "sent_after_restored": len(sent_after & receipts),
        "points_restored": len(back["metric_points"]),
        "points_expected": BATCH * len(receipts),
        "files_restored": len(index),
        "files_acked_before_missing": len(files_before - index.keys()),
        "files_sent_after_restored": len(files_after & index.keys()),
        "files_hash_mismatch": sum(
            1 for (run, path), digest in index.items() if on_disk.get(f"{uri[run]}/{path}") != digest
        ),
        "files_on_disk_unindexed": len(on_disk) - len(index),
    }


def consistent(r: dict[str, Any]) -> bool:
    return (
        not r["tables_differing"]
        and r["acked_before_missing"] == r["sent_after_restored"] == 0
        and r["points_restored"] == r["points_expected"]
        and r["files_acked_before_missing"] == r["files_sent_after_restored"] == 0
        and r["files_hash_mismatch"] == r["files_on_disk_unindexed"] == 0
    )
