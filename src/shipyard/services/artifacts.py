"""Run artifacts: streamed, hash-checked, atomic uploads and confined paths."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from anyio import to_thread

from shipyard.domain.context import RequestContext
from shipyard.domain.paths import clean_relative_path, join_key
from shipyard.errors import InvalidArgument, NotFound, PayloadTooLarge
from shipyard.services._clock import now_ms
from shipyard.services.ports import ArtifactRecord, ArtifactStore, Database, RunRef
from shipyard.services.tracking import TrackingService

__all__ = ["ArtifactEntry", "ArtifactService"]


@dataclass(frozen=True, slots=True)
class ArtifactEntry:
    path: str
    is_dir: bool
    size: int | None
    sha256: str | None


class ArtifactService:
    def __init__(self, db: Database, store: ArtifactStore, max_upload_bytes: int) -> None:
        self.db = db
        self.store = store
        self.max_upload_bytes = max_upload_bytes

    def _ref(self, ctx: RequestContext, run_id: str, *, for_write: bool) -> RunRef:
        with self.db.read() as uow:
            return TrackingService._ref(uow, ctx, run_id, allow_deleted=not for_write)

    async def upload(
        self,
        ctx: RequestContext,
        run_id: str,
        path: str,
        body: AsyncIterable[bytes],
        expected_sha256: str | None = None,
    ) -> ArtifactRecord:
        clean = clean_relative_path(path)
        if expected_sha256 is not None and (
            len(expected_sha256) != 64 or any(c not in "0123456789abcdef" for c in expected_sha256.lower())
        ):
            raise InvalidArgument("the sha256 checksum must be 64 hex characters")
        ref = await to_thread.run_sync(lambda: self._ref(ctx, run_id, for_write=True))
        size, sha = await self.put_stream(join_key(ref.artifact_uri, clean), body, expected_sha256)
        record = ArtifactRecord(path=clean, size=size, sha256=sha, created_at=now_ms())

        def _index() -> None:
            with self.db.write() as uow:
                uow.artifacts.record(ref, clean, size, sha, ctx.principal.name, record.created_at)

        await to_thread.run_sync(_index)
        return record

    async def put_stream(
        self, key: str, body: AsyncIterable[bytes], expected_sha256: str | None = None
    ) -> tuple[int, str]:
        """Stream ``body`` to a staging file, check size and hash, publish it at ``key``."""
        digest = hashlib.sha256()
        size = 0
        with self.store.staging_file() as (staged, handle):
            async for chunk in body:
                size += len(chunk)
                if size > self.max_upload_bytes:
                    raise PayloadTooLarge(
                        f"upload is larger than the server's limit of {self.max_upload_bytes} bytes"
                    )
                digest.update(chunk)
                handle.write(chunk)
            handle.flush()
            handle.close()
            sha = digest.hexdigest()
            if expected_sha256 is not None and expected_sha256.lower() != sha:
                raise InvalidArgument(
                    f"upload corrupted in transit: sha256 is {sha}, the client announced {expected_sha256}"
                )
            await to_thread.run_sync(self.store.put, key, staged)
        return size, sha

    def put_local(self, ref: RunRef, path: str, source: Path, actor: str) -> ArtifactRecord:
        """Store a file from this host as the run's artifact ``path`` (a job's logs and outputs)."""
        clean = clean_relative_path(path)
        digest = hashlib.sha256()
        size = 0
        with self.store.staging_file() as (staged, handle):
            with source.open("rb") as reader:
                while chunk := reader.read(1 << 20):
                    digest.update(chunk)
                    size += len(chunk)
                    handle.write(chunk)
            handle.flush()
            handle.close()
            self.store.put(join_key(ref.artifact_uri, clean), staged)
        record = ArtifactRecord(path=clean, size=size, sha256=digest.hexdigest(), created_at=now_ms())
        with self.db.write() as uow:
            uow.artifacts.record(ref, clean, size, record.sha256, actor, record.created_at)
        return record

    def open(self, ctx: RequestContext, run_id: str, path: str) -> tuple[BinaryIO, ArtifactRecord | None]:
        clean = clean_relative_path(path)
        ref = self._ref(ctx, run_id, for_write=False)
        with self.db.read() as uow:
            record = uow.artifacts.get(ref, clean)
        return self.store.get(join_key(ref.artifact_uri, clean)), record

    def list(self, ctx: RequestContext, run_id: str, path: str = "") -> list[ArtifactEntry]:
        """The immediate children of folder ``path`` (files with size and hash, folders)."""
        clean = clean_relative_path(path, allow_empty=True)
        ref = self._ref(ctx, run_id, for_write=False)
        with self.db.read() as uow:
            records = uow.artifacts.under(ref, clean)
        if clean and any(r.path == clean for r in records):
            raise InvalidArgument(f"{clean!r} is a file, not a folder; download it instead")
        base = f"{clean}/" if clean else ""
        files: dict[str, ArtifactEntry] = {}
        for record in records:
            rest = record.path[len(base) :]
            head, sep, _ = rest.partition("/")
            child = base + head
            if sep:
                files.setdefault(child, ArtifactEntry(child, True, None, None))
            else:
                files[child] = ArtifactEntry(child, False, record.size, record.sha256)
        if clean and not files:
            raise NotFound(f"run {run_id} has no artifact folder {clean!r}", path=clean)
        return sorted(files.values(), key=lambda e: e.path)

    def exists(self, ref: RunRef, path: str) -> bool:
        """True when ``path`` is an artifact file or a folder holding some."""
        with self.db.read() as uow:
            return bool(uow.artifacts.under(ref, path))
