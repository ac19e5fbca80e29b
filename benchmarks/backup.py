"""How long ``shipyard backup create`` and ``backup restore`` take, beside the tools a person
would otherwise reach for, on the same data.

    .venv/bin/python benchmarks/backup.py                   # SQLite, and PostgreSQL when
                                                            # SHIPYARD_TEST_DATABASE_URL is set
    .venv/bin/python benchmarks/backup.py --points 200000 --files 20 --runs 1   # quick

The data: one run with ``--points`` metric points (the bulk of any real store) and ``--files``
artifacts of 1 MB of random bytes (incompressible, as models are), written through the
services. The anchors, timed the same way (wall clock of the command, medians of ``--runs``):

- SQLite: ``sqlite3 shipyard.db ".backup copy.db"`` (SQLite's own online copy) then ``tar -cf``
  of the copy and the artifact folder; restore: ``tar -xf``.
- PostgreSQL: ``pg_dump -Fc`` then ``tar -cf`` of the dump and the artifact folder; restore:
  ``tar -xf`` then ``pg_restore`` into a new database.

Ours does more (a sha256 of every member, checked twice on restore; the references resolved
so garbage stays out; one all-or-nothing load), which is what the ratio shows the price of.

Then, on each backend, the consistency figure (``_backup_during_ingest.py``; ``--no-ingest``
leaves it out): a backup taken while two writers ingest into a running server, restored,
and every record and artifact hash compared with the source at the snapshot point.
Results: ``.bench/backup.json`` and ``.bench/backup.md``; see docs/benchmarks.md#backup-and-restore.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from _backup_during_ingest import consistent, measure
from _measure import markdown_table, median, run_header, say
from shipyard.domain.access import EVERYTHING
from shipyard.domain.context import Principal, RequestContext
from shipyard.services.artifacts import ArtifactService
from shipyard.services.ports import MetricBatch, MetricSeries
from shipyard.services.tracking import TrackingService
from shipyard.stores.artifacts.local import LocalArtifactStore
from shipyard.stores.sql.database import SqlDatabase

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / ".bench"
OWNER = RequestContext(principal=Principal("admin", authenticated=True, grants=EVERYTHING))


@dataclass(frozen=True)
class Sizes:
    points: int
    files: int
    runs: int


def _populate(url: str, artifacts: Path, sizes: Sizes) -> None:
    db = SqlDatabase(url)
    tracking = TrackingService(db)
    tracking.bootstrap()
    run = tracking.create_run(OWNER, tracking.create_experiment(OWNER, "bench").id, name="big")
    step = 0
    while step < sizes.points:
        n = min(100_000, sizes.points - step)
        steps = list(range(step, step + n))
        batch = MetricBatch([MetricSeries("loss", steps, [1 / (s + 1) for s in steps], steps)])
        tracking.log_metrics(OWNER, run.id, batch)
        step += n
    service = ArtifactService(db, LocalArtifactStore(artifacts), max_upload_bytes=1 << 30)
    for i in range(sizes.files):
        data = os.urandom(1 << 20)

        async def body(data: bytes = data) -> AsyncIterator[bytes]:
            yield data

        async def upload(path: str = f"model/part-{i:04d}.bin", body: Callable[[], Any] = body) -> None:
            await service.upload(OWNER, run.id, path, body())

        anyio.run(upload)
    db.close()


def _timed(argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed: {done.stderr[-2000:]}")
    return seconds


def _shell(script: str, cwd: Path) -> float:
    return _timed(["bash", "-c", script], cwd=cwd)


def _shipyard(*args: str) -> list[str]:
    return [sys.executable, "-m", "shipyard", *args]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}


class Postgres:
    def __init__(self, url: str) -> None:
        self.url = url
        self.admin = create_engine(
            make_url(url).set(database="postgres").render_as_string(hide_password=False),
            isolation_level="AUTOCOMMIT",
        )
        self.made: list[str] = []

    def new(self) -> str:
        name = f"shipyard_bench_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.made.append(name)
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)

    def libpq(self, url: str) -> str:
        """The URL as pg_dump and pg_restore take it (no +psycopg)."""
        return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in self.made:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


def _sqlite(work: Path, sizes: Sizes) -> dict[str, list[float]]:
    home = work / "home"
    home.mkdir()
    _populate(f"sqlite:///{home / 'shipyard.db'}", home / "artifacts", sizes)
    times: dict[str, list[float]] = {
        k: [] for k in ("ours create", "ours restore", "anchor create", "anchor restore")
    }
    for turn in range(sizes.runs):
        out = work / f"turn-{turn}"
        out.mkdir()
        times["ours create"].append(
            _timed(_shipyard("backup", "create", "--home", str(home), "--to", str(out / "b.tar")), _env())
        )
        times["ours restore"].append(
            _timed(
                _shipyard("backup", "restore", str(out / "b.tar"), "--home", str(out / "restored")), _env()
            )
        )
        times["anchor create"].append(
            _shell(
                f"sqlite3 {home}/shipyard.db '.backup {out}/copy.db' && tar -cf {out}/a.tar -C {out} copy.db"
                f" -C {home} artifacts",
                out,
            )
        )
        (out / "anchor").mkdir()
        times["anchor restore"].append(_shell(f"tar -xf {out}/a.tar -C {out}/anchor", out))
        shutil.rmtree(out)
    return times


def _postgresql(work: Path, sizes: Sizes, pg: Postgres) -> dict[str, list[float]]:
    home = work / "pg-home"
    home.mkdir()
    source = pg.new()
    _populate(source, home / "artifacts", sizes)
    times: dict[str, list[float]] = {
        k: [] for k in ("ours create", "ours restore", "anchor create", "anchor restore")
    }
    db = ["--database-url", source]
    for turn in range(sizes.runs):
        out = work / f"pg-turn-{turn}"
        out.mkdir()
        times["ours create"].append(
            _timed(
                _shipyard("backup", "create", "--home", str(home), *db, "--to", str(out / "b.tar")), _env()
            )
        )
        target = pg.new()
        times["ours restore"].append(
            _timed(
                _shipyard(
                    "backup",
                    "restore",
                    str(out / "b.tar"),
                    "--home",
                    str(out / "r"),
                    "--database-url",
                    target,
                ),
                _env(),
            )
        )
        times["anchor create"].append(
            _shell(
                f"pg_dump -Fc -f {out}/dump.pgc '{pg.libpq(source)}' && tar -cf {out}/a.tar -C {out} dump.pgc"
                f" -C {home} artifacts",
                out,
            )
        )
        anchor_target = pg.new()
        (out / "anchor").mkdir()
        times["anchor restore"].append(
            _shell(
                f"tar -xf {out}/a.tar -C {out}/anchor && pg_restore -d '{pg.libpq(anchor_target)}'"
                f" {out}/anchor/dump.pgc",
                out,
            )
        )
        shutil.rmtree(out)
    return times


def _rows(backend: str, times: dict[str, list[float]]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for step in ("create", "restore"):
        ours, anchor = median(times[f"ours {step}"]), median(times[f"anchor {step}"])
        rows.append((backend, step, f"{ours:.2f} s", f"{anchor:.2f} s", f"{ours / anchor:.2f}x"))
    return rows


def _ingest_rows(backend: str, r: dict[str, Any]) -> list[tuple[str, ...]]:
    verdict = "identical to the snapshot point" if consistent(r) else "DIFFERS"
    return [
        (
            backend,
            f"{r['tables_compared']} tables, {r['rows_compared']:,} rows",
            "identical" if not r["tables_differing"] else f"DIFFER: {', '.join(r['tables_differing'])}",
        ),
        (
            backend,
            f"metric batches: {r['batches_acked_before']} acknowledged before the backup began,"
            f" {r['batches_in_source']} in the source at the end",
            f"{r['batches_restored']} restored: {r['acked_before_missing']} of the first missing,"
            f" {r['sent_after_restored']} sent after its end; points {r['points_restored']:,}"
            f" of {r['points_expected']:,} (whole batches)",
        ),
        (
            backend,
            f"artifacts: {r['files_restored']} restored",
            f"{r['files_hash_mismatch']} hash mismatches, {r['files_acked_before_missing']} acknowledged"
            f" before missing, {r['files_sent_after_restored']} sent after restored,"
            f" {r['files_on_disk_unindexed']} unindexed",
        ),
        (
            backend,
            f"writers' pace (batches/s) before / during the backup ({r['create_s']:.1f} s)",
            f"{r['batches_per_s_before']:.0f} / {r['batches_per_s_during']:.0f}",
        ),
        (backend, "verdict", verdict),
    ]


def _during_ingest(work: Path, pg: Postgres | None) -> tuple[dict[str, Any], list[tuple[str, ...]]]:
    results: dict[str, Any] = {}
    rows: list[tuple[str, ...]] = [
        ("backend", "backup during ingestion, restored", "compared with the source")
    ]
    (work / "ingest-sqlite").mkdir()
    say("SQLite: a backup during ingestion, restored and compared")
    sqlite = work / "ingest-sqlite"
    results["sqlite"] = r = measure(
        sqlite,
        f"sqlite:///{sqlite / 'ingest-home' / 'shipyard.db'}",
        f"sqlite:///{sqlite / 'ingest-restored' / 'shipyard.db'}",
        [],
        4.0,
    )
    rows += _ingest_rows("sqlite", r)
    if pg is not None:
        say("PostgreSQL: a backup during ingestion, restored and compared")
        (work / "ingest-pg").mkdir()
        source, target = pg.new(), pg.new()
        results["postgresql"] = r = measure(
            work / "ingest-pg", source, target, ["--database-url", source], 4.0
        )
        rows += _ingest_rows("postgresql", r)
    return results, rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=100, help="artifacts of 1 MB each")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-ingest", action="store_true", help="leave out the backup during ingestion")
    args = parser.parse_args()
    sizes = Sizes(args.points, args.files, args.runs)
    for tool in ("sqlite3", "tar"):
        if shutil.which(tool) is None:
            sys.exit(f"the anchor needs {tool} on PATH")
    report: dict[str, Any] = {**run_header(sizes, quick=args.runs < 3), "results": {}}
    rows: list[tuple[str, ...]] = [("backend", "step", "shipyard backup", "anchor", "ours / anchor")]
    ingest_rows: list[tuple[str, ...]] = []
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-backup-") as tmp:
        work = Path(tmp)
        say(f"SQLite: {sizes.points:,} points, {sizes.files} MB of artifacts, {sizes.runs} runs")
        report["results"]["sqlite"] = times = _sqlite(work, sizes)
        rows += _rows("sqlite", times)
        url = os.environ.get("SHIPYARD_TEST_DATABASE_URL")
        pg = Postgres(url) if url and shutil.which("pg_dump") and shutil.which("pg_restore") else None
        try:
            if pg is not None:
                say("PostgreSQL: the same data")
                report["results"]["postgresql"] = times = _postgresql(work, sizes, pg)
                rows += _rows("postgresql", times)
            else:
                say("PostgreSQL left out: set SHIPYARD_TEST_DATABASE_URL and install pg_dump")
            if not args.no_ingest:
                report["during_ingest"], ingest_rows = _during_ingest(work, pg)
        finally:
            if pg is not None:
                pg.drop_all()
    BENCH.mkdir(exist_ok=True)
    (BENCH / "backup.json").write_text(json.dumps(report, indent=1))
    table = markdown_table(rows)
    if ingest_rows:
        table += ["", *markdown_table(ingest_rows)]
    (BENCH / "backup.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))


if __name__ == "__main__":
    main()
