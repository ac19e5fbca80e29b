"""``backup restore``: prove the whole file first, then write, then make it visible at once.

1. **Verify**: read the file end to end and check every member against the manifest (written
   last, so a file cut short has none). A truncated, damaged or altered file is refused
   here, before anything is written.
2. **Stage**: read it again, writing the tables into a scratch folder and the artifacts into
   the target store (for a local folder, a staging folder beside it), each hash checked
   again (the file could have changed between the two reads).
3. **Load**: the metadata goes in as one all-or-nothing step (a new SQLite file renamed into
   place; one PostgreSQL transaction). Just before that step makes the rows visible,
   ``publish`` puts the staged artifacts and the home's files in place; when anything fails
   before, the target is as it was.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from shipyard.errors import Conflict, InvalidBackup
from shipyard.services.backup_archive import (
    ARTIFACTS,
    HOME,
    ArchiveReader,
    ArchiveTables,
    Manifest,
    Member,
    check_key,
)
from shipyard.services.backup_ports import MetadataStore
from shipyard.services.ports import ArtifactStore

__all__ = ["BackupRestorer", "RestoreSummary", "refuse_if_in_use"]

_CHUNK = 1 << 20


@dataclass(slots=True)
class RestoreSummary:
    manifest: Manifest
    rows: dict[str, int]
    artifacts: int
    artifact_bytes: int
    seconds: float
    home: list[str] = field(default_factory=list)


def refuse_if_in_use(metadata: MetadataStore, what: str) -> None:
    """A database a server still uses cannot be replaced under it: name who has it open."""
    sessions = metadata.sessions()
    if sessions:
        raise Conflict(
            f"{what} is in use by {sessions[0]}"
            + (f" and {len(sessions) - 1} more" if len(sessions) > 1 else "")
            + ": stop its servers first",
            sessions=sessions[:20],
        )


def _copy(reader: IO[bytes], out: IO[bytes]) -> Member:
    digest = hashlib.sha256()
    size = 0
    while chunk := reader.read(_CHUNK):
        digest.update(chunk)
        out.write(chunk)
        size += len(chunk)
    return Member("", size, digest.hexdigest())


class BackupRestorer:
    def __init__(self, path: Path, say: Callable[[str], None] | None = None) -> None:
        self.reader = ArchiveReader(path)
        self.say = say or (lambda _line: None)

    def verify(self) -> Manifest:
        return self.reader.verify()

    def restore(
        self,
        metadata: MetadataStore,
        store: ArtifactStore,
        scratch: Path,
        *,
        replace: bool = False,
        publish: Callable[[dict[str, bytes]], None] = lambda _home: None,
    ) -> RestoreSummary:
        """Restore into ``metadata`` and ``store``; ``publish(home files)`` runs just before the
        rows become visible. ``replace``: the database may hold data, which goes."""
        started = time.monotonic()
        manifest = self.verify()
        self.say(
            f"verified: {sum(t.rows for t in manifest.tables):,} rows, {len(manifest.artifacts):,} artifacts"
            f" (schema revision {manifest.revision}, from {manifest.source})"
        )
        refuse_if_in_use(metadata, "the target database")
        if not replace:
            held = metadata.occupied()
            if held:
                shown = ", ".join(f"{name}: {count:,}" for name, count in sorted(held.items())[:5])
                raise Conflict(
                    f"the target database already holds data ({shown}): restore into an empty one,"
                    " or pass --force to replace it"
                )
        tables = ArchiveTables(manifest, scratch)
        home, count, size = self._stage(manifest, tables, store)
        self.say(f"staged: {count:,} artifacts ({size:,} bytes); loading the metadata")
        rows = metadata.load(tables, replace=replace, before_commit=lambda: publish(home))
        return RestoreSummary(manifest, rows, count, size, time.monotonic() - started, sorted(home))

    def _stage(
        self, manifest: Manifest, tables: ArchiveTables, store: ArtifactStore
    ) -> tuple[dict[str, bytes], int, int]:
        expected = manifest.members()
        home: dict[str, bytes] = {}
        count = size = 0
        for name, reader in self.reader.members():
            want = expected.get(name)
            if want is None:
                raise InvalidBackup(f"member {name!r} appeared since the file was verified: it changed")
            if name.startswith(ARTIFACTS):
                got = self._artifact(check_key(name[len(ARTIFACTS) :]), reader, store, want)
                count += 1
                size += got.size
            elif name.startswith(HOME):
                data = reader.read()
                _check(name, Member("", len(data), hashlib.sha256(data).hexdigest()), want)
                home[name[len(HOME) :]] = data
            else:
                with tables.path(name).open("wb") as out:
                    _check(name, _copy(reader, out), want)
        return home, count, size

    @staticmethod
    def _artifact(key: str, reader: IO[bytes], store: ArtifactStore, want: Member) -> Member:
        with store.staging_file() as (staged, handle):
            got = _copy(reader, handle)
            handle.flush()
            handle.close()
            _check(ARTIFACTS + key, got, want)
            store.put(key, staged)
        return got


def _check(name: str, got: Member, want: Member) -> None:
    if (got.size, got.sha256) != (want.size, want.sha256):
        raise InvalidBackup(f"{name!r} changed since the file was verified: is something writing to it?")
