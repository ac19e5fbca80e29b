"""The local half of snapshots: scan a folder into a manifest, write a downloaded one atomically."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shipyard.domain.snapshots import EXECUTABLE, REGULAR, SnapshotFile
from shipyard.errors import Conflict, InvalidArgument

__all__ = ["ScannedFile", "scan", "staging_folder"]

_CHUNK = 1 << 20

ScannedFile = tuple[SnapshotFile, Path]


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def scan(path: Path, max_bytes: int) -> list[ScannedFile]:
    """The files of folder ``path`` — with the ignore and symlink rules of a job's code
    snapshot (:func:`shipyard.specs.snapshot.scan_code`) — or the single file ``path``,
    each with its size, hash and mode and the local file to read it from."""
    if path.is_file():
        size = path.stat().st_size
        if size > max_bytes:
            raise InvalidArgument(f"{path} is {size} bytes, more than the limit of {max_bytes}")
        mode = EXECUTABLE if path.stat().st_mode & 0o100 else REGULAR
        return [(SnapshotFile(path.name, size, _hash_file(path), mode), path)]
    if not path.exists():
        raise InvalidArgument(f"{path} does not exist")
    from shipyard.specs.snapshot import scan_code

    found = scan_code(path, size_limit=max_bytes)
    return [
        (
            SnapshotFile(f.path, f.size, f.sha256, EXECUTABLE if f.executable else REGULAR),
            found.root.joinpath(*f.path.split("/")),
        )
        for f in found.files
    ]


@contextmanager
def staging_folder(dest: Path) -> Iterator[Path]:
    """A temporary sibling of ``dest``, renamed to ``dest`` when the block succeeds."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise Conflict(f"{dest} already exists and is not an empty folder", path=str(dest))
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.partial-"))
    try:
        yield tmp
        if dest.exists():
            dest.rmdir()
        tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
