"""Any fsspec filesystem (s3://, gs://, memory://…) as artifact store.

Object stores publish a whole object on a completed PUT, so ``put_file`` from the local
staging file is atomic for readers; the upload itself streams from disk.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import fsspec

from shipyard.errors import NotFound
from shipyard.services.ports import ArtifactStore, ObjectInfo

__all__ = ["FsspecArtifactStore"]


class FsspecArtifactStore(ArtifactStore):
    def __init__(self, url: str, staging_dir: Path | None = None) -> None:
        fs, root = fsspec.core.url_to_fs(url)
        self.fs: Any = fs
        self.root = root.rstrip("/")
        self.kind = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
        self.staging_dir = staging_dir

    def _path(self, key: str) -> str:
        return f"{self.root}/{key}" if key else self.root

    @contextmanager
    def staging_file(self) -> Iterator[tuple[Path, BinaryIO]]:
        with tempfile.NamedTemporaryFile(dir=self.staging_dir, prefix="upload-", delete=True) as handle:
            yield Path(handle.name), handle  # type: ignore[misc]

    def put(self, key: str, staged: Path) -> None:
        self.fs.put_file(str(staged), self._path(key))

    def get(self, key: str) -> BinaryIO:
        try:
            return self.fs.open(self._path(key), "rb")  # type: ignore[no-any-return]
        except FileNotFoundError as exc:
            raise NotFound(f"artifact {key!r} does not exist", path=key) from exc

    def exists(self, key: str) -> bool:
        return bool(self.fs.isfile(self._path(key)))

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        base = self._path(prefix)
        if not self.fs.exists(base):
            return
        for path, info in self.fs.find(base, detail=True).items():
            yield ObjectInfo(path[len(self.root) + 1 :], int(info.get("size") or 0), _modified(info))

    def delete(self, key: str) -> None:
        if self.fs.exists(self._path(key)):
            self.fs.rm_file(self._path(key))


def _modified(info: dict[str, Any]) -> float | None:
    """Each filesystem names it its own way: a number (local, memory) or a datetime (s3, gcs, azure)."""
    for field in ("mtime", "LastModified", "last_modified", "updated", "created"):
        value = info.get(field)
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, datetime):
            return value.timestamp()
    return None
