"""Data asset versions in SQL."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, func, insert, select

from shipyard.domain.data_assets import Column, DataAsset
from shipyard.errors import AlreadyExists
from shipyard.services.data_ports import DataAssetRepository
from shipyard.stores.sql import schema as s
from shipyard.stores.sql._workspace import in_workspace
from shipyard.stores.sql.schema_data import data_assets as d

__all__ = ["SqlDataAssetRepository"]

_SELECT = select(d, s.workspaces.c.name.label("workspace")).join(
    s.workspaces, s.workspaces.c.id == d.c.workspace_id
)


def _asset(row: Any) -> DataAsset:
    columns = None if row.columns is None else [Column(**c) for c in json.loads(row.columns)]
    return DataAsset(
        name=row.name,
        version=row.version,
        type=row.type,
        path=row.path,
        description=row.description,
        content_hash=row.content_hash,
        size=row.size,
        file_count=row.file_count,
        workspace=row.workspace,
        created_at=row.created_at,
        created_by=row.created_by,
        tags=json.loads(row.tags),
        columns=columns,
        row_count=row.row_count,
    )


class SqlDataAssetRepository(DataAssetRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _where(self, workspace: str, name: str) -> Any:
        return _SELECT.where(s.workspaces.c.name == workspace, d.c.name == name)

    def create(self, workspace_id: int, asset: DataAsset) -> None:
        taken = select(d.c.id).where(
            d.c.workspace_id == workspace_id, d.c.name == asset.name, d.c.version == asset.version
        )
        if self.conn.execute(taken).first() is not None:
            raise AlreadyExists(
                f"data asset {asset.name!r} already has a version {asset.version!r}; versions are "
                "immutable: register a new version instead",
                name=asset.name,
                version=asset.version,
            )
        columns = None if asset.columns is None else [{"name": c.name, "type": c.type} for c in asset.columns]
        self.conn.execute(
            insert(d).values(
                workspace_id=workspace_id,
                name=asset.name,
                version=asset.version,
                type=asset.type,
                path=asset.path,
                description=asset.description,
                tags=json.dumps(asset.tags, sort_keys=True),
                content_hash=asset.content_hash,
                size=asset.size,
                file_count=asset.file_count,
                columns=None if columns is None else json.dumps(columns),
                row_count=asset.row_count,
                created_at=asset.created_at,
                created_by=asset.created_by,
            )
        )

    def get(self, workspace: str, name: str, version: str) -> DataAsset | None:
        row = self.conn.execute(self._where(workspace, name).where(d.c.version == version)).first()
        return None if row is None else _asset(row)

    def latest(self, workspace: str, name: str) -> DataAsset | None:
        row = self.conn.execute(self._where(workspace, name).order_by(d.c.id.desc()).limit(1)).first()
        return None if row is None else _asset(row)

    def versions(self, workspace: str, name: str) -> list[DataAsset]:
        rows = self.conn.execute(self._where(workspace, name).order_by(d.c.id.desc()))
        return [_asset(row) for row in rows]

    def list_latest(self, workspace: str, offset: int, limit: int) -> list[DataAsset]:
        newest = in_workspace(d, workspace, func.max(d.c.id)).group_by(d.c.name)
        query = _SELECT.where(d.c.id.in_(newest)).order_by(d.c.name).offset(offset).limit(limit)
        return [_asset(row) for row in self.conn.execute(query)]

    def next_version(self, workspace: str, name: str) -> str:
        query = select(d.c.version).join(s.workspaces, s.workspaces.c.id == d.c.workspace_id)
        rows = self.conn.execute(query.where(s.workspaces.c.name == workspace, d.c.name == name))
        numbers = [int(v) for (v,) in rows if v.isdigit()]
        return str(max(numbers, default=0) + 1)
