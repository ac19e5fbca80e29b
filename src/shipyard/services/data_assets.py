"""Data assets: immutable versions of a file, a folder or an MLTable.

Local data is uploaded as a snapshot first (see :mod:`shipyard.services.snapshots`) and the
asset records its digest as ``content_hash``, with size, file count and — for tables — the
schema and row count, read once at registration. An external fsspec URL is recorded as
given, without copying or reading it (``content_hash`` empty).
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlparse

from shipyard.domain.context import RequestContext
from shipyard.domain.data_assets import DATA_TYPES, SNAPSHOT_SCHEME, DataAsset
from shipyard.domain.snapshots import blob_key
from shipyard.domain.validation import INT64_MAX, check_description, check_name
from shipyard.errors import InvalidArgument, NotFound
from shipyard.services import _tables
from shipyard.services._clock import now_ms
from shipyard.services.ports import Database
from shipyard.services.snapshots import Snapshot, SnapshotService
from shipyard.services.tracking import TrackingService

__all__ = ["LATEST", "DataAssetService"]

LATEST = "latest"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_URL_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]+$")


def _check_name(name: str) -> None:
    check_name("data asset", name)  # an invisible character is named by its code point
    if not _NAME.match(name):
        raise InvalidArgument(
            f"data asset name {name[:80]!r} must be 1-255 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )


def _check_version(version: str) -> None:
    if not _VERSION.match(version) or version == LATEST:
        raise InvalidArgument(
            f"version {version[:80]!r} must be 1-64 letters, digits, '.', '_' or '-', starting with a "
            f"letter or digit, and not {LATEST!r}"
        )


def _check_url(path: str) -> str:
    scheme = urlparse(path).scheme
    if not _URL_SCHEME.match(scheme) or scheme == "file":
        raise InvalidArgument(
            f"path {path[:200]!r} is not a remote URL (s3://, gs://, abfs://, https://…); local files "
            "are uploaded by the CLI or the SDK and registered by their snapshot",
            path=path[:200],
        )
    return path


class DataAssetService:
    def __init__(self, db: Database, snapshots: SnapshotService) -> None:
        self.db = db
        self.snapshots = snapshots

    def create(
        self,
        ctx: RequestContext,
        name: str,
        version: str | None = None,
        *,
        type: str = "uri_folder",  # noqa: A002 — the field's name in data.yml
        path: str | None = None,
        snapshot: str | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
    ) -> DataAsset:
        """Register a version from an uploaded ``snapshot`` or an external ``path`` URL.

        Without ``version``, one more than the highest integer version. A version that
        exists already is a 409: versions are immutable.
        """
        _check_name(name)
        if version is not None:
            _check_version(version)
        if type not in DATA_TYPES:
            raise InvalidArgument(f"type must be one of {', '.join(DATA_TYPES)}; got {type!r}")
        check_description(description)
        tags = TrackingService._check_tags(tags or {})
        if (path is None) == (snapshot is None):
            raise InvalidArgument("give either 'path' (an external URL) or 'snapshot' (uploaded data)")
        fields: dict[str, object]
        if snapshot is not None:
            fields = self._describe(type, self._snapshot(snapshot))
        else:
            fields = {"path": _check_url(str(path)), "content_hash": "", "size": None, "file_count": None}
        with self.db.write() as uow:
            workspace_id = uow.workspaces.ensure(ctx.workspace, ctx.principal.name, now_ms())
            asset = DataAsset(
                name=name,
                version=version or uow.data_assets.next_version(ctx.workspace, name),
                type=type,
                description=description,
                workspace=ctx.workspace,
                created_at=now_ms(),
                created_by=ctx.principal.name,
                tags=tags,
                **fields,  # type: ignore[arg-type]
            )
            uow.data_assets.create(workspace_id, asset)
        return asset

    def _snapshot(self, digest: str) -> Snapshot:
        try:
            return self.snapshots.manifest(digest)
        except NotFound:
            raise InvalidArgument(f"snapshot {digest} does not exist; upload the data first") from None

    def _describe(self, type_: str, snapshot: Snapshot) -> dict[str, object]:
        by_path = {f.path: f for f in snapshot.files}

        def open_file(rel: str) -> AbstractContextManager[BinaryIO]:
            return self.snapshots.store.get(blob_key(by_path[rel].sha256))

        path = f"{SNAPSHOT_SCHEME}{snapshot.digest}"
        table: _tables.TableInfo | None = None
        if type_ == "uri_file":
            if len(snapshot.files) != 1:
                raise InvalidArgument(
                    f"a uri_file data asset holds one file; snapshot {snapshot.digest} has "
                    f"{len(snapshot.files)}: use uri_folder"
                )
            only = snapshot.files[0].path
            path = f"{path}/{only}"
            table = _tables.table_info(only, open_file)
        elif type_ == "mltable":
            table = _tables.mltable_info(by_path, open_file)
        return {
            "path": path,
            "content_hash": snapshot.digest,
            "size": snapshot.size,
            "file_count": len(snapshot.files),
            "columns": None if table is None else table[0],
            "row_count": None if table is None else table[1],
        }

    def get(self, ctx: RequestContext, name: str, version: str = LATEST) -> DataAsset:
        """One version, or the one created last for ``version="latest"``."""
        with self.db.read() as uow:
            if version == LATEST:
                found = uow.data_assets.latest(ctx.workspace, name)
            else:
                found = uow.data_assets.get(ctx.workspace, name, version)
        if found is None:
            which = f"no data asset {name!r}"
            if version != LATEST:
                which += f" with version {version!r}"
            raise NotFound(f"{which} in workspace {ctx.workspace!r}", name=name, version=version)
        return found

    def list_latest(self, ctx: RequestContext, offset: int = 0, limit: int = 1000) -> list[DataAsset]:
        """The latest version of each data asset, by name."""
        if not 0 <= offset <= INT64_MAX:
            raise InvalidArgument(f"offset must be between 0 and 2**63 - 1; got {offset}")
        with self.db.read() as uow:
            return uow.data_assets.list_latest(ctx.workspace, offset, limit)

    def versions(self, ctx: RequestContext, name: str) -> list[DataAsset]:
        with self.db.read() as uow:
            found = uow.data_assets.versions(ctx.workspace, name)
        if not found:
            raise NotFound(f"no data asset {name!r} in workspace {ctx.workspace!r}", name=name)
        return found

    def profile(self, ctx: RequestContext, name: str, version: str) -> dict[str, Any]:
        """The version's per-column profile (see :mod:`shipyard.services.data_profile`), computed
        on the first call and kept: a 400 (``details.reason`` "not_tabular") when it is no table."""
        from shipyard.services.data_profile import DataProfiler  # numpy/pyarrow: only when asked

        return DataProfiler(self.snapshots).profile(self.get(ctx, name, version))

    def download(self, ctx: RequestContext, name: str, version: str, dest: Path) -> DataAsset:
        """Materialise an uploaded asset's files into the new folder ``dest``."""
        asset = self.get(ctx, name, version)
        if not asset.content_hash:
            raise InvalidArgument(
                f"data asset {name}:{asset.version} is an external URL ({asset.path}); read it from there"
            )
        self.snapshots.materialize(asset.content_hash, dest)
        return asset
