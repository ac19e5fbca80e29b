"""A local folder as artifact store: staged temp file + ``os.replace`` for atomic puts."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from shipyard.errors import InvalidPath, NotFound
from shipyard.services.ports import ArtifactStore, ObjectInfo

__all__ = ["LocalArtifactStore"]

_STAGING = ".staging"


class LocalArtifactStore(ArtifactStore):
    kind = "local"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        self.staging = self.root / _STAGING
        self.staging.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        # Keys are already clean (domain.paths); this guards against symlinks inside the
        # root that point out of it, which no string check can see.
        path = (self.root / key).resolve()
        if path != self.root and self.root not in path.parents:
            raise InvalidPath("path resolves outside the artifact root", path=key)
        if path == self.staging or self.staging in path.parents:
            raise InvalidPath("path is reserved", path=key)
        return path

    @contextmanager
    def staging_file(self) -> Iterator[tuple[Path, BinaryIO]]:
        fd, name = tempfile.mkstemp(dir=self.staging, prefix="upload-")
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as handle:
                yield path, handle
        finally:
            path.unlink(missing_ok=True)

    def put(self, key: str, staged: Path) -> None:
        target = self._path(key)
        if target.is_dir():
            raise InvalidPath("a folder already exists at this path", path=key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise InvalidPath("a file already exists where this path needs a folder", path=key) from None
        self._path(key)  # parents may have been symlinks created meanwhile: check again
        if staged.parent == self.staging:
            os.replace(staged, target)
            return
        fd, name = tempfile.mkstemp(dir=self.staging, prefix="copy-")
        with os.fdopen(fd, "wb") as out, staged.open("rb") as src:
            while chunk := src.read(1 << 20):
                out.write(chunk)
        os.replace(name, target)

    def get(self, key: str) -> BinaryIO:
        path = self._path(key)
        if not path.is_file():
            raise NotFound(f"artifact {key!r} does not exist", path=key)
        return path.open("rb")

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        base = self._path(prefix) if prefix else self.root
        if base.is_file():
            stat = base.stat()
            yield ObjectInfo(prefix, stat.st_size, stat.st_mtime)
            return
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if Path(dirpath, d) != self.staging]
            for filename in filenames:
                full = Path(dirpath, filename)
                try:
                    stat = full.stat()
                except FileNotFoundError:
                    continue  # deleted since the folder was read
                yield ObjectInfo(full.relative_to(self.root).as_posix(), stat.st_size, stat.st_mtime)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
