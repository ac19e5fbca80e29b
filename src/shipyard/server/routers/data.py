"""/api/v1/data: data assets (immutable versions of a file, a folder or an MLTable)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from shipyard.api import data as api
from shipyard.domain.data_assets import DataAsset
from shipyard.server.data_schemas import ColumnOut, DataAssetIn, DataAssetOut, DataAssetPage
from shipyard.server.deps import Ctx, Svc, json_response
from shipyard.services.data_assets import LATEST

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/data", tags=["data"])


def _out(asset: DataAsset) -> DataAssetOut:
    columns = None if asset.columns is None else [ColumnOut(name=c.name, type=c.type) for c in asset.columns]
    return DataAssetOut(
        name=asset.name,
        version=asset.version,
        type=asset.type,
        path=asset.path,
        description=asset.description,
        tags=asset.tags,
        content_hash=asset.content_hash,
        size=asset.size,
        file_count=asset.file_count,
        columns=columns,
        row_count=asset.row_count,
        workspace=asset.workspace,
        created_at=asset.created_at,
        created_by=asset.created_by,
    )


@router.post(
    "",
    response_model=DataAssetOut,
    status_code=201,
    summary="Register a data asset version from an uploaded snapshot or an external URL",
)
def create(body: DataAssetIn, ctx: Ctx, svc: Svc) -> object:
    asset = svc.data.create(
        ctx,
        body.name,
        body.version,
        type=body.type,
        path=body.path,
        snapshot=body.snapshot,
        description=body.description,
        tags=body.tags,
    )
    return json_response(_out(asset), 201)


@router.get("", response_model=DataAssetPage, summary="The latest version of each data asset")
def list_(
    ctx: Ctx,
    svc: Svc,
    max_results: int = Query(1000, ge=1, le=10_000),
    offset: int = Query(0, ge=0),
) -> object:
    found = svc.data.list_latest(ctx, offset, max_results)
    return json_response(DataAssetPage(assets=[_out(a) for a in found]))


@router.get("/{name}/versions", response_model=DataAssetPage, summary="Every version of a data asset")
def versions(name: str, ctx: Ctx, svc: Svc) -> object:
    return json_response(DataAssetPage(assets=[_out(a) for a in svc.data.versions(ctx, name)]))


@router.get(
    "/{name}/versions/{version}",
    response_model=DataAssetOut,
    summary=f"One version of a data asset; '{LATEST}' for the one created last",
)
def get(name: str, version: str, ctx: Ctx, svc: Svc) -> object:
    return json_response(_out(svc.data.get(ctx, name, version)))


def _column(data: dict[str, Any]) -> api.ColumnProfile:
    histogram = data.get("histogram")
    return api.ColumnProfile(
        **{k: v for k, v in data.items() if k not in ("histogram", "top")},
        histogram=None if histogram is None else api.Histogram(**histogram),
        top=[api.ValueCount(**t) for t in data.get("top", [])],
    )


@router.get(
    "/{name}/versions/{version}/profile",
    response_model=api.DataProfile,
    summary="Per-column statistics of a tabular version (the first 1,000,000 rows), computed once and kept",
    responses={400: {"description": "Not a table (details.reason 'not_tabular'): a folder of other"
                     " files, an external URL, a file that is not CSV, TSV or Parquet"}},
)  # fmt: skip
def profile(name: str, version: str, ctx: Ctx, svc: Svc) -> object:
    data = svc.data.profile(ctx, name, version)
    columns = [_column(c) for c in data["column_profiles"]]
    return json_response(api.DataProfile(**{**data, "column_profiles": columns}))
