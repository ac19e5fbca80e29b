"""The index of uploaded artifacts: path, size and sha256 per run."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, delete, insert, or_, select

from shipyard.services.ports import ArtifactIndex, ArtifactRecord, RunRef
from shipyard.stores.sql import schema as s

__all__ = ["SqlArtifactIndex"]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqlArtifactIndex(ArtifactIndex):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def record(self, ref: RunRef, path: str, size: int, sha256: str, actor: str, now: int) -> None:
        a = s.artifacts.c
        self.conn.execute(delete(s.artifacts).where(a.run_pk == ref.pk, a.path == path))
        self.conn.execute(
            insert(s.artifacts).values(
                run_pk=ref.pk, path=path, size=size, sha256=sha256, created_at=now, created_by=actor
            )
        )

    def get(self, ref: RunRef, path: str) -> ArtifactRecord | None:
        a = s.artifacts.c
        row = self.conn.execute(
            select(a.path, a.size, a.sha256, a.created_at).where(a.run_pk == ref.pk, a.path == path)
        ).first()
        return ArtifactRecord(*row) if row else None

    def under(self, ref: RunRef, prefix: str) -> list[ArtifactRecord]:
        a = s.artifacts.c
        query = select(a.path, a.size, a.sha256, a.created_at).where(a.run_pk == ref.pk)
        if prefix:
            query = query.where(or_(a.path == prefix, a.path.like(_escape_like(prefix) + "/%", escape="\\")))
        return [ArtifactRecord(*row) for row in self.conn.execute(query.order_by(a.path))]

    def forget(self, ref: RunRef, paths: Sequence[str]) -> None:
        if paths:
            a = s.artifacts.c
            self.conn.execute(delete(s.artifacts).where(a.run_pk == ref.pk, a.path.in_(list(paths))))
