"""``shipyard migrate``: a laptop's workspace onto the team's database (and artifact store).

The source is read as one snapshot (it may be in use); the target must hold nothing. The
artifacts the snapshot points to are copied first, hash checked, so the rows that name them
appear — all at once, in one step — only when their files are there.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from shipyard.errors import Conflict
from shipyard.services.backup import copy_artifacts, referenced_keys
from shipyard.services.backup_ports import MetadataStore
from shipyard.services.backup_refs import scan_digests
from shipyard.services.backup_restore import refuse_if_in_use
from shipyard.services.ports import ArtifactStore

__all__ = ["MigrateSummary", "migrate"]

_CHUNK = 1 << 20


@dataclass(slots=True)
class MigrateSummary:
    revision: str
    rows: dict[str, int]
    artifacts: int
    artifact_bytes: int
    seconds: float
    notes: list[str] = field(default_factory=list)


def _refuse_occupied(target: MetadataStore, name: str) -> None:
    held = target.occupied()
    if held:
        shown = ", ".join(f"{table}: {count:,}" for table, count in sorted(held.items())[:5])
        raise Conflict(
            f"{name} already holds data ({shown}): migrate into an empty database, made for it"
            " and never started as a server's",
            tables=sorted(held),
        )


def _put(store: ArtifactStore, key: str, reader: IO[bytes]) -> str:
    digest = hashlib.sha256()
    with store.staging_file() as (staged, handle):
        while chunk := reader.read(_CHUNK):
            digest.update(chunk)
            handle.write(chunk)
        handle.flush()
        handle.close()
        store.put(key, staged)
    return digest.hexdigest()


def migrate(
    source: MetadataStore,
    target: MetadataStore,
    scratch: Path,
    *,
    stores: tuple[ArtifactStore, ArtifactStore] | None = None,
    target_name: str = "the target database",
    say: Callable[[str], None] = lambda _line: None,
) -> MigrateSummary:
    """Copy ``source``'s rows into the empty ``target``; with ``stores`` (from, to), the
    artifacts the rows point to as well."""
    started = time.monotonic()
    _refuse_occupied(target, target_name)
    refuse_if_in_use(target, target_name)
    count = size = 0
    notes: list[str] = []
    with source.snapshot(scratch) as snapshot:
        say(f"source: a snapshot at schema revision {snapshot.revision} ({snapshot.kind})")
        if stores is not None:
            origin, destination = stores
            roots = snapshot.artifact_roots()
            infos, _ = referenced_keys(origin, roots, scan_digests(snapshot))
            say(f"artifacts: copying {len(infos):,} files")
            count, size, notes = copy_artifacts(
                infos,
                roots.indexed,
                lambda key, reader, _size: _put(destination, key, reader),
                origin.get,
                scratch,
            )
        say("metadata: loading")
        rows = target.load(snapshot)
        revision = snapshot.revision
    return MigrateSummary(revision, rows, count, size, time.monotonic() - started, notes)
