"""Data assets on each metadata store backend, with their files as snapshots in a local folder."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from shipyard.domain.context import RequestContext
from shipyard.domain.data_assets import Column
from shipyard.errors import AlreadyExists, InvalidArgument, InvalidPath, NotFound
from shipyard.services.artifacts import ArtifactService
from shipyard.services.data_assets import DataAssetService
from shipyard.services.snapshots import SnapshotService
from shipyard.stores.artifacts.local import LocalArtifactStore
from shipyard.stores.sql.database import SqlDatabase
from tests.integration.test_snapshots import entry, put

CSV = b"sepal_length,species,count,ok\n5.1,setosa,1,true\n4.9,setosa,,false\n6.3,virginica,3,true\n"


@pytest.fixture
def snapshots(db: SqlDatabase, tmp_path: Path) -> SnapshotService:
    store = LocalArtifactStore(tmp_path / "artifacts")
    return SnapshotService(store, ArtifactService(db, store, max_upload_bytes=1 << 20))


@pytest.fixture
def data(db: SqlDatabase, snapshots: SnapshotService) -> DataAssetService:
    return DataAssetService(db, snapshots)


def snap(snapshots: SnapshotService, files: dict[str, bytes]) -> str:
    for content in files.values():
        put(snapshots, content)
    return snapshots.create_snapshot([entry(p, c) for p, c in files.items()]).digest


def test_versions_count_up_and_latest_is_the_one_created_last(
    data: DataAssetService, snapshots: SnapshotService, ctx: RequestContext
) -> None:
    first = data.create(ctx, "iris", snapshot=snap(snapshots, {"a.txt": b"1"}), tags={"team": "cv"})
    second = data.create(ctx, "iris", snapshot=snap(snapshots, {"a.txt": b"2", "b.txt": b"22"}))
    assert (first.version, second.version) == ("1", "2")
    named = data.create(ctx, "iris", "2026-11", snapshot=snap(snapshots, {"a.txt": b"3"}))
    assert data.get(ctx, "iris").version == "2026-11"  # latest = created last, not highest
    assert data.create(ctx, "iris", snapshot=first.content_hash).version == "3"
    assert [a.version for a in data.versions(ctx, "iris")] == ["3", "2026-11", "2", "1"]
    got = data.get(ctx, "iris", "2")
    assert (got.size, got.file_count, got.content_hash) == (3, 2, second.content_hash)
    assert got.path == f"snapshot:{second.content_hash}"
    assert data.get(ctx, "iris", "1").tags == {"team": "cv"}
    assert named.created_by == ctx.principal.name


def test_a_version_is_immutable(
    data: DataAssetService, snapshots: SnapshotService, ctx: RequestContext
) -> None:
    data.create(ctx, "frozen", "1", snapshot=snap(snapshots, {"a.txt": b"old"}))
    with pytest.raises(AlreadyExists, match="immutable"):
        data.create(ctx, "frozen", "1", snapshot=snap(snapshots, {"a.txt": b"new"}), description="sneaky")
    kept = data.get(ctx, "frozen", "1")
    assert kept.description == ""
    assert snapshots.manifest(kept.content_hash).files[0].sha256 == entry("a.txt", b"old").sha256


def test_list_shows_the_latest_version_of_each_name(
    data: DataAssetService, snapshots: SnapshotService, ctx: RequestContext
) -> None:
    digest = snap(snapshots, {"a.txt": b"x"})
    for name in ("b-set", "a-set", "b-set"):
        data.create(ctx, name, snapshot=digest)
    assert [(a.name, a.version) for a in data.list_latest(ctx)] == [("a-set", "1"), ("b-set", "2")]
    other = dataclasses.replace(ctx, workspace="other")
    assert data.list_latest(other) == []
    with pytest.raises(NotFound):
        data.get(other, "a-set")


def test_a_csv_file_reports_its_schema_and_row_count(
    data: DataAssetService, snapshots: SnapshotService, ctx: RequestContext
) -> None:
    asset = data.create(ctx, "iris-csv", type="uri_file", snapshot=snap(snapshots, {"iris.csv": CSV}))
    assert asset.columns == [
        Column("sepal_length", "double"),
        Column("species", "string"),
        Column("count", "int64"),
        Column("ok", "bool"),
    ]
    assert asset.row_count == 3
    assert asset.path.endswith("/iris.csv")
    assert data.get(ctx, "iris-csv").columns == asset.columns


def test_an_mltable_reports_the_rows_of_every_file_it_names(
    data: DataAssetService, snapshots: SnapshotService, ctx: RequestContext
) -> None:
    mltable = b"paths:\n  - folder: ./parts\ntransformations:\n  - read_delimited:\n      delimiter: ','\n"
    files = {"MLTable": mltable, "parts/1.csv": CSV, "parts/2.csv": CSV}
    asset = data.create(ctx, "iris-table", type="mltable", snapshot=snap(snapshots, files))
    assert asset.row_count == 6
    assert [c.name for c in asset.columns or []] == ["sepal_length", "species", "count", "ok"]
    with pytest.raises(InvalidArgument, match="'MLTable' file"):
        data.create(ctx, "no-table", type="mltable", snapshot=snap(snapshots, {"x.csv": CSV}))
    escape = {"MLTable": b"paths:\n  - file: ../secret.csv\ntransformations:\n  - read_parquet: {}\n"}
    with pytest.raises(InvalidPath, match="outside its folder"):
        data.create(ctx, "bad-table", type="mltable", snapshot=snap(snapshots, escape))


def test_a_non_table_file_and_a_folder_have_no_schema(
    data: DataAssetService, snapshots: SnapshotService, ctx: RequestContext
) -> None:
    asset = data.create(ctx, "weights", type="uri_file", snapshot=snap(snapshots, {"w.bin": b"\0\1"}))
    assert (asset.columns, asset.row_count, asset.size) == (None, None, 2)
    with pytest.raises(InvalidArgument, match="holds one file"):
        data.create(ctx, "two", type="uri_file", snapshot=snap(snapshots, {"a": b"a", "b": b"b"}))


def test_an_external_url_is_recorded_without_reading_it(data: DataAssetService, ctx: RequestContext) -> None:
    url = "s3://bucket/that/does/not/exist/"
    asset = data.create(ctx, "remote", path=url, description="in the lake")
    assert (asset.path, asset.content_hash, asset.size, asset.file_count) == (url, "", None, None)
    for bad in ("/etc/passwd", "data/train.csv", "file:///etc/passwd", "C:/data"):
        with pytest.raises(InvalidArgument, match="not a remote URL"):
            data.create(ctx, "local", path=bad)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "../x"}, "name"),
        ({"name": "ok", "version": "latest"}, "version"),
        ({"name": "ok", "version": "1/2"}, "version"),
        ({"name": "ok", "type": "table"}, "type must be"),
        ({"name": "ok", "snapshot": "0" * 64}, "does not exist"),
        ({"name": "ok"}, "either"),
    ],
)
def test_bad_input_is_a_clear_400_and_creates_nothing(
    data: DataAssetService, ctx: RequestContext, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        data.create(ctx, **kwargs)
    assert data.list_latest(ctx) == []


def test_download_reproduces_the_files(
    data: DataAssetService, snapshots: SnapshotService, ctx: RequestContext, tmp_path: Path
) -> None:
    files = {"train/x.csv": CSV, "README": b"hello"}
    data.create(ctx, "dl", snapshot=snap(snapshots, files))
    data.download(ctx, "dl", "latest", tmp_path / "out")
    assert {
        p.relative_to(tmp_path / "out").as_posix(): p.read_bytes()
        for p in (tmp_path / "out").rglob("*")
        if p.is_file()
    } == files
    data.create(ctx, "ext", path="https://example.com/data.csv")
    with pytest.raises(InvalidArgument, match="external URL"):
        data.download(ctx, "ext", "1", tmp_path / "ext")
    with pytest.raises(NotFound, match="'nope'"):
        data.download(ctx, "nope", "1", tmp_path / "nope")


def test_a_parquet_file_that_is_not_parquet_is_a_clear_400_and_nothing_is_kept(
    data: DataAssetService, snapshots: SnapshotService, ctx: RequestContext
) -> None:
    with pytest.raises(InvalidArgument, match=r"table\.parquet: .*not Parquet"):
        data.create(
            ctx, "fake", type="uri_file", snapshot=snap(snapshots, {"table.parquet": b"not,parquet\n1,2\n"})
        )
    with pytest.raises(NotFound):
        data.get(ctx, "fake")
