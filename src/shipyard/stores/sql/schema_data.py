"""The table of data assets. Tags and the table schema are JSON text: read whole, never queried."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, String, Table, Text, UniqueConstraint

from shipyard.stores.sql.schema import metadata

__all__ = ["data_assets"]

data_assets = Table(
    "data_assets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("version", String(64), nullable=False),
    Column("type", String(16), nullable=False),
    Column("path", String(2048), nullable=False),
    Column("description", Text, nullable=False),
    Column("tags", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("size", BigInteger, nullable=True),
    Column("file_count", Integer, nullable=True),
    Column("columns", Text, nullable=True),
    Column("row_count", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=False),
    UniqueConstraint("workspace_id", "name", "version", name="uq_data_assets_workspace_name_version"),
)
