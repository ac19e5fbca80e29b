"""Request and response DTOs of blobs, snapshots and data assets (``/api/v1``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shipyard.server.schemas import Dto

__all__ = [
    "BlobOut",
    "ColumnOut",
    "DataAssetIn",
    "DataAssetOut",
    "DataAssetPage",
    "MissingBlobsIn",
    "MissingBlobsOut",
    "SnapshotFileDto",
    "SnapshotIn",
    "SnapshotOut",
]


# -- blobs and snapshots ---------------------------------------------------------------


class MissingBlobsIn(Dto):
    sha256: list[str] = Field(description="Hashes the client is about to upload.")


class MissingBlobsOut(Dto):
    missing: list[str] = Field(description="Those the server does not have yet: upload only these.")


class BlobOut(Dto):
    sha256: str
    size: int


class SnapshotFileDto(Dto):
    path: str = Field(description="Relative path with '/' separators.")
    size: int
    sha256: str
    mode: int = Field(0o644, description="0o755 (493) for an executable file, else 0o644 (420).")


class SnapshotIn(Dto):
    files: list[SnapshotFileDto]


class SnapshotOut(Dto):
    digest: str = Field(description="sha256 of the canonical manifest; the snapshot's identity.")
    size: int
    files: list[SnapshotFileDto]


# -- data assets -------------------------------------------------------------------------


class ColumnOut(Dto):
    name: str
    type: str


class DataAssetIn(Dto):
    name: str
    version: str | None = Field(None, description="Omit for one more than the highest integer version.")
    type: Literal["uri_file", "uri_folder", "mltable"] = "uri_folder"
    path: str | None = Field(None, description="An fsspec URL recorded as is; omit when giving a snapshot.")
    snapshot: str | None = Field(None, description="Digest of an uploaded snapshot holding the data.")
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)


class DataAssetOut(Dto):
    name: str
    version: str
    type: str
    path: str
    description: str
    tags: dict[str, str]
    content_hash: str = Field(description="The snapshot digest; '' for an external URL.")
    size: int | None
    file_count: int | None
    columns: list[ColumnOut] | None = Field(description="Table schema (CSV, Parquet, MLTable).")
    row_count: int | None
    workspace: str
    created_at: int
    created_by: str


class DataAssetPage(Dto):
    assets: list[DataAssetOut]
