"""Content-addressed blobs and folder snapshots: the keys, the manifest and its digest.

A blob is a file's bytes stored once under its sha256. A snapshot is a manifest — the
sorted list of ``{path, size, sha256, mode}`` of a folder's files, kept as JSON — and its
digest is the sha256 of the manifest's canonical form, one line per file,
``path NUL size NUL sha256 NUL executable(0|1) LF``. That is the form
:func:`shipyard.specs.snapshot.scan_code` hashes, so the digest a client computes for a
folder before sending a byte is the one the server records; two folders with the same files
have the same digest wherever and whenever they were uploaded.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from shipyard.domain.paths import clean_relative_path
from shipyard.errors import InvalidArgument, InvalidPath

__all__ = [
    "BLOB_PREFIX",
    "EXECUTABLE",
    "REGULAR",
    "SNAPSHOT_PREFIX",
    "SnapshotFile",
    "SnapshotRef",
    "blob_key",
    "check_sha256",
    "manifest_bytes",
    "manifest_digest",
    "normalise_manifest",
    "parse_manifest",
    "snapshot_key",
]

# Workspace folders cannot start with "_", so these prefixes never meet a user's artifacts.
BLOB_PREFIX = "_cas/sha256"
SNAPSHOT_PREFIX = "_snapshots"
REGULAR = 0o644
EXECUTABLE = 0o755
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class SnapshotFile:
    path: str
    size: int
    sha256: str
    mode: int = REGULAR  # only the executable bit is kept: 0o755 or 0o644

    @property
    def executable(self) -> bool:
        return self.mode == EXECUTABLE


@dataclass(frozen=True, slots=True)
class SnapshotRef:
    """An uploaded snapshot, as the SDK reports it: ``uploaded_bytes`` is what crossed the
    wire this time (0 when the server had every blob already)."""

    digest: str
    files: list[SnapshotFile]
    size: int
    uploaded_bytes: int


def check_sha256(value: str, what: str = "sha256") -> str:
    """``value`` when it is 64 lowercase hex characters, else a 400 saying so."""
    if not _SHA256.match(value):
        raise InvalidArgument(f"{what} must be 64 lowercase hex characters; got {value[:80]!r}")
    return value


def blob_key(sha256: str) -> str:
    sha = check_sha256(sha256)
    return f"{BLOB_PREFIX}/{sha[:2]}/{sha}"


def snapshot_key(digest: str) -> str:
    return f"{SNAPSHOT_PREFIX}/{check_sha256(digest, 'snapshot digest')}.json"


def normalise_manifest(files: Iterable[SnapshotFile]) -> list[SnapshotFile]:
    """Clean paths, keep only the executable bit, sort by path; refuse what cannot be a folder.

    Refused with a 400: a path that escapes the root (``..``, absolute, percent-encoded…), the
    same path twice, a path that is both a file and a folder (``a`` and ``a/b``), a negative
    size, a malformed hash.
    """
    out: dict[str, SnapshotFile] = {}
    for file in files:
        path = clean_relative_path(file.path)
        if path in out:
            raise InvalidPath(f"the snapshot names {path!r} twice", path=path)
        if file.size < 0:
            raise InvalidArgument(f"size of {path!r} is negative", path=path)
        check_sha256(file.sha256, f"sha256 of {path!r}")
        mode = EXECUTABLE if file.mode & 0o111 else REGULAR
        out[path] = SnapshotFile(path, file.size, file.sha256, mode)
    for path in out:
        parts = path.split("/")
        for i in range(1, len(parts)):
            folder = "/".join(parts[:i])
            if folder in out:
                raise InvalidPath(f"{folder!r} is a file and also a folder holding {path!r}", path=path)
    return [out[p] for p in sorted(out)]


def manifest_bytes(files: list[SnapshotFile]) -> bytes:
    """The stored JSON of a normalised manifest: sorted keys, no spaces, UTF-8."""
    body = [asdict(f) for f in files]
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def manifest_digest(files: list[SnapshotFile]) -> str:
    """The snapshot's identity: sha256 over the canonical lines of a normalised manifest."""
    digest = hashlib.sha256()
    for f in files:
        digest.update(f"{f.path}\0{f.size}\0{f.sha256}\0{int(f.executable)}\n".encode())
    return digest.hexdigest()


def parse_manifest(data: bytes) -> list[SnapshotFile]:
    return [SnapshotFile(**entry) for entry in json.loads(data)]
