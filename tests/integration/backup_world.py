"""A workspace with something of every kind, and the independent reads that compare two of them.

:func:`populate` goes through the services (as a server would) and adds the garbage a real
store collects; :func:`dump_all` reads every table with SQLAlchemy Core and :func:`file_hashes`
hashes every file of a local store — neither shares code with backup, restore or gc.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import MetaData, create_engine, select

from shipyard.domain.access import EVERYTHING
from shipyard.domain.context import Principal, RequestContext
from shipyard.domain.snapshots import blob_key, snapshot_key
from shipyard.services.access.audit import AuditLog
from shipyard.services.access.identity import IdentityService
from shipyard.services.access.secrets import SecretService
from shipyard.services.artifacts import ArtifactService
from shipyard.services.data_assets import DataAssetService
from shipyard.services.log_streams import LogStreams, job_log_stream
from shipyard.services.logged_models import LoggedModelService
from shipyard.services.ports import MetricBatch, MetricSeries
from shipyard.services.promotions import PromotionService
from shipyard.services.registry import RegistryService
from shipyard.services.snapshots import SnapshotService
from shipyard.services.tracking import TrackingService
from shipyard.stores.artifacts.local import LocalArtifactStore
from shipyard.stores.secret_cipher import FernetCipher
from shipyard.stores.sql.database import SqlDatabase
from shipyard.stores.sql.tables import metadata
from tests.integration.conftest import upload

OWNER = RequestContext(
    principal=Principal("admin", authenticated=True, grants=EVERYTHING), workspace="default"
)
TOKEN = "shy_backup_world_owner_token_0123456789abcdef"
SECRET_KEY = Fernet.generate_key()


@dataclass(frozen=True)
class World:
    url: str
    artifacts: Path
    run_id: str
    garbage: frozenset[str]
    """Keys no record points to (gc removes them; a backup leaves them out)."""
    cache: frozenset[str]
    """Keys of a cache (neither backed up nor removed)."""


def _write(store: LocalArtifactStore, key: str, data: bytes) -> None:
    with store.staging_file() as (staged, handle):
        handle.write(data)
        handle.flush()
        handle.close()
        store.put(key, staged)


def populate(url: str, artifacts: Path, scratch: Path) -> World:
    db = SqlDatabase(url)
    store = LocalArtifactStore(artifacts)
    try:
        return _populate(db, store, url, artifacts, scratch)
    finally:
        db.close()


def _populate(db: SqlDatabase, store: LocalArtifactStore, url: str, artifacts: Path, scratch: Path) -> World:
    tracking = TrackingService(db)
    tracking.bootstrap()
    identity = IdentityService(db)
    identity.bootstrap_owner(TOKEN)
    identity.create_user(OWNER, "alice", "alice@example.com")
    identity.create_token(OWNER, "ci", user="alice")
    SecretService(db, FernetCipher(SECRET_KEY)).set(OWNER, "db-password", "hunter2")
    audit = AuditLog(db)
    audit.record(
        actor="admin",
        action="test.populate",
        target="world",
        workspace="default",
        status=200,
        outcome="success",
    ).result()
    audit.stop()

    experiment = tracking.create_experiment(OWNER, "churn", tags={"team": "ml"})
    run = tracking.create_run(OWNER, experiment.id, name="baseline", params={"C": "1.0"}, tags={"git": "abc"})
    series = MetricSeries(
        "loss",
        steps=list(range(1000)),
        values=[1 / (s + 1) for s in range(997)] + [math.inf, -math.inf, math.nan],
        timestamps=[1_700_000_000_000 + s for s in range(1000)],
    )
    tracking.log_metrics(OWNER, run.id, MetricBatch([series]), idempotency_key="batch-0001")
    child = tracking.create_run(OWNER, experiment.id, name="child", parent_run_id=run.id)
    tracking.log_params(OWNER, child.id, {"depth": "3"})

    service = ArtifactService(db, store, max_upload_bytes=1 << 24)
    upload(service, OWNER, run.id, "model/model.pkl", os.urandom(300_000))
    upload(service, OWNER, run.id, "model/MLmodel", b"flavors: {}\n")
    upload(service, OWNER, run.id, "notes/ünïcode name.txt", b"caf\xc3\xa9\n")
    upload(service, OWNER, run.id, "empty.txt", b"")
    registry = RegistryService(db)
    version = registry.register(OWNER, "churn-model", run.id, "model", description="first")
    registry.set_alias(OWNER, "churn-model", "champion", version.version)
    promotions = PromotionService(db, registry, tracking, store)
    promotions.protect(OWNER, "churn-model", "prod")
    pending = promotions.request(OWNER, "churn-model", version.version, "prod")
    approver = RequestContext(Principal("bob", authenticated=True, grants=EVERYTHING), workspace="default")
    promotions.approve(approver, "churn-model", pending.id, "checked")

    logged = LoggedModelService(db, store).create(OWNER, experiment.id, name="lm", source_run_id=run.id)
    _write(store, f"{logged.artifact_location}/MLmodel", b"logged model\n")

    logs = LogStreams(db, store)
    writer = logs.writer(job_log_stream("default", "calm-job"))
    writer.append(b"[shipyard] job calm-job on compute 'local'\n")
    writer.flush()

    snapshots = SnapshotService(store, service)
    data_dir = scratch / "data"
    data_dir.mkdir()
    (data_dir / "iris.csv").write_text("a,b\n1,2\n3,4\n")
    (data_dir / "README").write_text("the data\n")
    snapshot = snapshots.snapshot_local_folder(data_dir)
    DataAssetService(db, snapshots).create(OWNER, "iris", "1", type="uri_folder", snapshot=snapshot.digest)

    # What a real store collects besides: an upload whose index row never came, a blob sent
    # for a job that was then refused, a snapshot nobody names, a deleted model's file.
    orphan = scratch / "orphan.bin"
    orphan.write_bytes(b"sent, then the job was refused")
    orphan_blob = snapshots.put_local_file(orphan).sha256
    refused = snapshots.create_snapshot([snapshots.put_local_file(data_dir / "README")])
    unindexed = {
        f"{run.artifact_uri}/half-uploaded.bin",
        f"{job_log_stream('default', 'calm-job')}/{'9' * 16}.log",  # a chunk whose row never came
        f"{experiment.artifact_location}/models/m-{'0' * 32}/artifacts/MLmodel",
    }
    for key in unindexed:
        _write(store, key, b"nobody's")
    garbage = unindexed | {blob_key(orphan_blob), snapshot_key(refused.digest)}
    _write(store, "_collected/default/ep/blue/model_inputs/part-0.jsonl", b'{"x": 1}\n')
    cache = {"cache/remote-inputs/" + "c" * 64}
    for key in cache:
        _write(store, key, b'{"snapshot": "' + snapshot.digest.encode() + b'"}')
    return World(url, artifacts, run.id, frozenset(garbage), frozenset(cache))


def dump_all(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order; NaN made comparable."""
    engine = create_engine(url)
    out: dict[str, list[tuple[Any, ...]]] = {}
    try:
        with engine.connect() as conn:
            for table in metadata.sorted_tables:
                rows = conn.execute(select(table).order_by(*table.primary_key.columns)).all()
                out[table.name] = [tuple("NaN" if v != v else v for v in row) for row in rows]
    finally:
        engine.dispose()
    return out


def dump_reflected(
    url: str, columns: dict[str, list[str]] | None = None
) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """Every table the database holds as it is (whatever its schema revision): its columns
    (or only ``columns[table]``) and its rows in primary-key order."""
    engine = create_engine(url)
    found = MetaData()
    out: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}
    try:
        with engine.connect() as conn:
            found.reflect(conn)
            for table in found.sorted_tables:
                if table.name == "alembic_version":
                    continue
                names = (columns or {}).get(table.name, [c.name for c in table.columns])
                query = select(*(table.c[n] for n in names)).order_by(*table.primary_key.columns)
                out[table.name] = (names, [tuple(row) for row in conn.execute(query)])
    finally:
        engine.dispose()
    return out


def file_hashes(root: Path) -> dict[str, str]:
    """Key → sha256 of every file of a local artifact store."""
    out = {}
    for path in root.rglob("*"):
        if path.is_file() and ".staging" not in path.relative_to(root).parts:
            out[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out
