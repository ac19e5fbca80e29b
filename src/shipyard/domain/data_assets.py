"""Data assets: immutable, versioned references to a file, a folder or an MLTable."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["DATA_TYPES", "SNAPSHOT_SCHEME", "Column", "DataAsset"]

DATA_TYPES = ("uri_file", "uri_folder", "mltable")
SNAPSHOT_SCHEME = "snapshot:"
"""``path`` of uploaded data: ``snapshot:<digest>``, or ``snapshot:<digest>/<file>`` for a uri_file."""


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str  # Arrow's type names: int64, double, bool, string, timestamp[us]…


@dataclass(frozen=True, slots=True)
class DataAsset:
    name: str
    version: str
    type: str
    path: str
    description: str
    content_hash: str  # the snapshot digest of uploaded data; "" for an external URL
    size: int | None
    file_count: int | None
    workspace: str
    created_at: int
    created_by: str
    tags: dict[str, str] = field(default_factory=dict)
    columns: list[Column] | None = None  # tables only (CSV/Parquet uri_file, mltable)
    row_count: int | None = None
