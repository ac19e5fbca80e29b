"""``backup create``: one consistent snapshot of the metadata, then every artifact it points to.

The snapshot is taken first and fixes what the backup holds: each table's rows are written
out (and scanned for the digests they name), then the artifact store is listed and every
key the snapshot refers to is copied with its sha256 (see :mod:`backup_refs` for which).
Writes go on meanwhile. An artifact is immutable once its record exists — a new upload makes
a new key or replaces a file atomically — so the copy matches the snapshot; the rare file
replaced or deleted between the snapshot and its copy is said in the manifest's notes.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from shipyard._version import __version__
from shipyard.errors import NotFound
from shipyard.services.backup_archive import (
    ARTIFACTS,
    HOME,
    ArchiveWriter,
    Manifest,
    Member,
    TableEntry,
    write_rows,
)
from shipyard.services.backup_ports import ArtifactRoots, MetadataStore, Row
from shipyard.services.backup_refs import KeyKind, References, digests_in, manifest_blobs
from shipyard.services.ports import ArtifactStore, ObjectInfo

__all__ = ["BackupMaker", "BackupSummary", "copy_artifacts", "referenced_keys"]


@dataclass(slots=True)
class BackupSummary:
    path: Path
    source: str
    revision: str
    tables: int
    rows: int
    artifacts: int
    artifact_bytes: int
    size: int
    seconds: float
    home: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _read(store: ArtifactStore, key: str) -> bytes:
    with store.get(key) as handle:
        return handle.read()


def referenced_keys(
    store: ArtifactStore, roots: ArtifactRoots, digests: set[str]
) -> tuple[list[ObjectInfo], References]:
    """The store's objects a backup takes (referenced, and those that are no one's to judge),
    in key order, with the references that chose them."""
    listed = sorted(store.list(""), key=lambda info: info.key)
    refs = References.build(
        roots, digests, (i.key for i in listed), manifest_blobs(lambda k: _read(store, k))
    )
    wanted = (KeyKind.REFERENCED, KeyKind.OTHER)
    return [info for info in listed if refs.kind(info.key) in wanted], refs


def _sized(handle: IO[bytes], stack: ExitStack, scratch: Path) -> tuple[IO[bytes], int]:
    """``handle`` with its exact size: a local file's own (it is never rewritten in place,
    only replaced), else a spooled copy's, so the size announced is the size copied."""
    try:
        return handle, os.fstat(handle.fileno()).st_size
    except (AttributeError, OSError, io.UnsupportedOperation):
        spool = stack.enter_context(tempfile.TemporaryFile(dir=scratch))  # noqa: SIM115 - closed by the stack
        shutil.copyfileobj(handle, spool, 1 << 20)
        size = spool.tell()
        spool.seek(0)
        return spool, size


def copy_artifacts(
    infos: list[ObjectInfo],
    indexed: Mapping[str, str],
    copy_one: Callable[[str, IO[bytes], int], str],
    open_key: Callable[[str], IO[bytes]],
    scratch: Path,
) -> tuple[int, int, list[str]]:
    """Copy each key through ``copy_one(key, reader, size) -> sha256``; returns the count,
    the bytes and notes on index entries whose file changed or went missing meanwhile."""
    count = size_sum = 0
    changed: list[str] = []
    gone: list[str] = []
    for info in infos:
        with ExitStack() as stack:
            try:
                handle = stack.enter_context(open_key(info.key))
            except NotFound:
                if info.key in indexed:
                    gone.append(info.key)
                continue  # deleted since it was listed, with its record: not part of the snapshot
            reader, size = _sized(handle, stack, scratch)
            sha = copy_one(info.key, reader, size)
        count += 1
        size_sum += size
        if info.key in indexed and indexed[info.key] != sha:
            changed.append(info.key)
    copied = {info.key for info in infos}
    gone += [key for key in indexed if key not in copied]
    notes = []
    if changed:
        notes.append(
            f"{len(changed)} artifact(s) were replaced after the snapshot and hold their newer bytes,"
            f" e.g. {changed[0]}"
        )
    if gone:
        notes.append(f"{len(gone)} indexed artifact(s) were missing from the store, e.g. {sorted(gone)[0]}")
    return count, size_sum, notes


class BackupMaker:
    def __init__(
        self, metadata: MetadataStore, store: ArtifactStore, say: Callable[[str], None] | None = None
    ) -> None:
        self.metadata = metadata
        self.store = store
        self.say = say or (lambda _line: None)

    def create(self, dest: Path, home_files: Mapping[str, bytes]) -> BackupSummary:
        """Write the backup to ``dest`` (a new file), with ``home_files`` (name → bytes)."""
        started = time.monotonic()
        writer = ArchiveWriter(dest)
        scratch = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.scratch-"))
        try:
            manifest, digests, roots = self._metadata(writer, scratch)
            infos, _ = referenced_keys(self.store, roots, digests)
            self.say(f"artifacts: copying {len(infos):,} files")

            def copy_one(key: str, reader: IO[bytes], size: int) -> str:
                member = writer.add(ARTIFACTS + key, reader, size)
                manifest.artifacts.append(Member(key, member.size, member.sha256))
                return member.sha256

            count, size, notes = copy_artifacts(infos, roots.indexed, copy_one, self.store.get, scratch)
            manifest.notes += notes
            for name, data in sorted(home_files.items()):
                member = writer.add_bytes(HOME + name, data)
                manifest.home.append(Member(name, member.size, member.sha256))
            writer.finish(manifest)
        except BaseException:
            writer.abort()
            raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return BackupSummary(
            path=dest,
            source=manifest.source,
            revision=manifest.revision,
            tables=len(manifest.tables),
            rows=sum(t.rows for t in manifest.tables),
            artifacts=count,
            artifact_bytes=size,
            size=dest.stat().st_size,
            seconds=time.monotonic() - started,
            home=sorted(home_files),
            notes=manifest.notes,
        )

    def _metadata(self, writer: ArchiveWriter, scratch: Path) -> tuple[Manifest, set[str], ArtifactRoots]:
        digests: set[str] = set()
        with self.metadata.snapshot(scratch) as snapshot:
            manifest = Manifest(
                created_ms=int(time.time() * 1000),
                shipyard=__version__,
                source=snapshot.kind,
                revision=snapshot.revision,
            )
            self.say(
                f"metadata: a snapshot of the {snapshot.kind} database at schema revision {snapshot.revision}"
            )
            for number, spec in enumerate(snapshot.tables(), start=1):
                name = f"tables/{number:03d}-{spec.name}.jsonl.gz"
                staged = scratch / f"{number:03d}.jsonl.gz"
                positions = [spec.columns.index(c) for c in spec.text]
                floats = [spec.columns.index(c) for c in spec.floats]

                def scanned(chunks: Iterator[list[Row]], where: list[int] = positions) -> Iterator[list[Row]]:
                    for chunk in chunks:
                        digests.update(digests_in(chunk, where))
                        yield chunk

                rows = write_rows(staged, scanned(snapshot.chunks(spec)), floats)
                member = writer.add_file(name, staged)
                staged.unlink()
                manifest.tables.append(
                    TableEntry(
                        spec.name, list(spec.columns), list(spec.text), rows, member, list(spec.floats)
                    )
                )
            roots = snapshot.artifact_roots()
        total = sum(t.rows for t in manifest.tables)
        self.say(f"metadata: {total:,} rows in {len(manifest.tables)} tables")
        return manifest, digests, roots
