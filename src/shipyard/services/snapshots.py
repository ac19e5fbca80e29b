"""Content-addressed blobs and folder snapshots in the artifact store, deduplicated across
everything (job code, data assets).

Blobs live at ``_cas/sha256/<2 hex>/<sha256>``, manifests at ``_snapshots/<digest>.json``
(see :mod:`shipyard.domain.snapshots`). Both are immutable: a key's bytes are fixed by its
name, so publishing one twice is harmless and nothing ever rewrites one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from shipyard.domain.paths import clean_relative_path
from shipyard.domain.snapshots import (
    EXECUTABLE,
    REGULAR,
    SnapshotFile,
    blob_key,
    check_sha256,
    manifest_bytes,
    manifest_digest,
    normalise_manifest,
    parse_manifest,
    snapshot_key,
)
from shipyard.errors import Conflict, InvalidArgument, NotFound
from shipyard.services.artifacts import ArtifactService
from shipyard.services.ports import ArtifactStore

__all__ = ["MAX_HASHES_PER_QUERY", "Snapshot", "SnapshotService"]

MAX_HASHES_PER_QUERY = 100_000
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Snapshot:
    digest: str
    files: list[SnapshotFile]

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


class SnapshotService:
    def __init__(self, store: ArtifactStore, uploads: ArtifactService) -> None:
        self.store = store
        # put_stream: streamed to a staging file, size-capped and hash-checked before publish.
        self.uploads = uploads

    # -- blobs ---------------------------------------------------------------------------

    def _blob_size(self, sha256: str) -> int | None:
        found = next(iter(self.store.list(blob_key(sha256))), None)
        return None if found is None else found.size

    def missing(self, hashes: Iterable[str]) -> list[str]:
        """Those of ``hashes`` with no blob yet, in the order given, each once."""
        wanted = list(dict.fromkeys(check_sha256(h) for h in hashes))
        if len(wanted) > MAX_HASHES_PER_QUERY:
            raise InvalidArgument(f"ask about at most {MAX_HASHES_PER_QUERY} hashes at a time")
        return [h for h in wanted if not self.store.exists(blob_key(h))]

    async def put_blob(self, sha256: str, body: AsyncIterable[bytes]) -> int:
        """Store ``body`` as the blob ``sha256`` and return its size.

        The bytes are checked against the name before anything is published: a wrong hash
        is a 400 and leaves the store as it was (an existing blob stays untouched).
        """
        key = blob_key(sha256)
        size, _ = await self.uploads.put_stream(key, body, expected_sha256=sha256)
        return size

    def open_blob(self, sha256: str) -> tuple[BinaryIO, int]:
        key = blob_key(sha256)
        size = self._blob_size(sha256)
        if size is None:
            raise NotFound(f"blob {sha256} does not exist", sha256=sha256)
        return self.store.get(key), size

    def put_local_file(self, path: Path) -> SnapshotFile:
        """Store a file of this host as a blob (once: an existing blob is not rewritten)."""
        digest = hashlib.sha256()
        with path.open("rb") as reader:
            while chunk := reader.read(_CHUNK):
                digest.update(chunk)
        sha = digest.hexdigest()
        size = path.stat().st_size
        if not self.store.exists(blob_key(sha)):
            with self.store.staging_file() as (staged, handle):
                with path.open("rb") as reader:
                    shutil.copyfileobj(reader, handle, _CHUNK)
                handle.flush()
                handle.close()
                self.store.put(blob_key(sha), staged)
        mode = EXECUTABLE if os.access(path, os.X_OK) else REGULAR
        return SnapshotFile(path.name, size, sha, mode)

    def snapshot_local_folder(self, root: Path) -> Snapshot:
        """A snapshot of a folder of this host (a job's output), its files stored as blobs."""
        files = [
            replace(self.put_local_file(path), path=path.relative_to(root).as_posix())
            for path in sorted(root.rglob("*"))
            if path.is_file() and not path.is_symlink()
        ]
        return self.create_snapshot(files)

    # -- snapshots -----------------------------------------------------------------------

    def create_snapshot(self, files: Iterable[SnapshotFile]) -> Snapshot:
        """Record a manifest of blobs already uploaded; return it with its digest.

        Every blob must exist with the size the manifest says: a 400 names those that do not,
        so the client knows exactly what to upload before it tries again.
        """
        manifest = normalise_manifest(files)
        absent: list[str] = []
        for file in manifest:
            size = self._blob_size(file.sha256)
            if size is None:
                absent.append(file.path)
            elif size != file.size:
                raise InvalidArgument(
                    f"{file.path!r} is {file.size} bytes in the manifest but its blob is {size}",
                    path=file.path,
                )
        if absent:
            shown = ", ".join(absent[:20]) + (f" and {len(absent) - 20} more" if len(absent) > 20 else "")
            raise InvalidArgument(
                f"{len(absent)} file(s) of the snapshot have no uploaded blob: {shown}; upload them first",
                missing=absent[:1000],
            )
        digest = manifest_digest(manifest)
        key = snapshot_key(digest)
        if not self.store.exists(key):
            with self.store.staging_file() as (staged, handle):
                handle.write(manifest_bytes(manifest))
                handle.flush()
                self.store.put(key, staged)
        return Snapshot(digest, manifest)

    def manifest(self, digest: str) -> Snapshot:
        key = snapshot_key(digest)
        if not self.store.exists(key):
            raise NotFound(f"snapshot {digest} does not exist", digest=digest)
        with self.store.get(key) as handle:
            return Snapshot(digest, parse_manifest(handle.read()))

    def open_file(self, digest: str, path: str) -> tuple[BinaryIO, SnapshotFile]:
        clean = clean_relative_path(path)
        for file in self.manifest(digest).files:
            if file.path == clean:
                return self.store.get(blob_key(file.sha256)), file
        raise NotFound(f"snapshot {digest} has no file {clean!r}", digest=digest, path=clean)

    def materialize(self, digest: str, dest: Path) -> Snapshot:
        """Write the snapshot's files into the new folder ``dest``, executable bits kept.

        Atomic: the files are written into a temporary sibling folder renamed to ``dest`` at
        the end, so ``dest`` either does not exist or holds the whole snapshot. ``dest`` must
        not exist yet (an empty folder is replaced).
        """
        snapshot = self.manifest(digest)
        dest = Path(dest)
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            raise Conflict(f"{dest} already exists and is not an empty folder", path=str(dest))
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.partial-"))
        try:
            for file in snapshot.files:
                target = tmp.joinpath(*file.path.split("/"))
                target.parent.mkdir(parents=True, exist_ok=True)
                with self.store.get(blob_key(file.sha256)) as src, target.open("wb") as out:
                    shutil.copyfileobj(src, out, _CHUNK)
                if file.mode & 0o111:
                    # Executable where readable: the process's umask decides who reads (the
                    # server's is 077, so its files are its own), as `chmod +x` would.
                    mode = os.stat(target).st_mode
                    os.chmod(target, mode | (mode & 0o444) >> 2)
            if dest.exists():
                dest.rmdir()
            tmp.rename(dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return snapshot
