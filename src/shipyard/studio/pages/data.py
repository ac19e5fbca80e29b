"""Data assets: the latest version of each, and one asset's versions with the chosen version's
path, size, table schema, row count and profile (per-column statistics). Every datum is an
API answer (``/api/v1/data``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from shipyard.api.data import ColumnProfile, DataProfile, Histogram, ValueCount
from shipyard.client import _convert
from shipyard.domain.data_assets import SNAPSHOT_SCHEME, DataAsset
from shipyard.studio.api import ApiError, StudioApi
from shipyard.studio.pages.models import page_number
from shipyard.studio.render import page, render

__all__ = ["router"]

router = APIRouter()

PAGE_SIZE = 50


def _q(text: str) -> str:
    return quote(text, safe="")


@router.get("/studio/data")
@page
async def data_assets_page(request: Request, page: str | None = Query(None, max_length=20)) -> Response:
    api = StudioApi(request)
    number = page_number(page)
    answer = await api.get(
        "/api/v1/data",
        max_results=PAGE_SIZE + 1,  # one more than shown says whether a next page exists
        offset=(number - 1) * PAGE_SIZE,
    )
    found: list[DataAsset] = [_convert.data_asset(a) for a in answer["assets"]]
    previous = f"/studio/data?page={number - 1}" if number > 2 else "/studio/data"
    return render(
        request, "data_assets.html", api=api, title="Data", assets=found[:PAGE_SIZE], page=number,
        prev_link=previous if number > 1 else None,
        next_link=f"/studio/data?page={number + 1}" if len(found) > PAGE_SIZE else None,
    )  # fmt: skip


@router.get("/studio/data/{name}")
@page
async def data_asset_page(
    request: Request, name: str, version: str | None = Query(None, max_length=200)
) -> Response:
    api = StudioApi(request)
    answer = await api.get(f"/api/v1/data/{_q(name)}/versions")  # newest first; 404 names the asset
    versions: list[DataAsset] = [_convert.data_asset(a) for a in answer["assets"]]
    chosen = versions[0] if versions else None
    if version and version != "latest":
        chosen = next((a for a in versions if a.version == version), None)
        if chosen is None:  # the API's own 404 says which version of which asset is missing
            chosen = _convert.data_asset(await api.get(f"/api/v1/data/{_q(name)}/versions/{_q(version)}"))
    assert chosen is not None, "the API answers 404 for an asset without versions"
    snapshot = chosen.path[len(SNAPSHOT_SCHEME) :] if chosen.path.startswith(SNAPSHOT_SCHEME) else None
    profile: DataProfile | None = None
    profile_error: ApiError | None = None
    try:  # a version that is no table answers 400 (not_tabular): its message fills the panel
        profile = _profile(
            await api.get(f"/api/v1/data/{_q(chosen.name)}/versions/{_q(chosen.version)}/profile")
        )
    except ApiError as error:
        profile_error = error
    return render(
        request, "data_asset.html", api=api, title=f"{chosen.name}:{chosen.version}", asset=chosen,
        versions=versions, snapshot=snapshot, profile=profile, profile_error=profile_error,
        bars={c.name: _bars(c.histogram) for c in profile.column_profiles if c.histogram}
        if profile else {},
    )  # fmt: skip


def _profile(data: dict[str, Any]) -> DataProfile:
    """The answer as the shared dataclasses (``decode`` is shallow: nested parts one by one)."""
    columns = [
        _convert.decode(
            ColumnProfile,
            {
                **raw,
                "histogram": None
                if raw.get("histogram") is None
                else _convert.decode(Histogram, raw["histogram"]),
                "top": [_convert.decode(ValueCount, t) for t in raw.get("top") or []],
            },
        )
        for raw in data["column_profiles"]
    ]
    return _convert.decode(DataProfile, {**data, "column_profiles": columns})


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    height: float
    label: str
    """The bin's range and count, as the bar's tooltip."""


_WIDTH, _HEIGHT = 160.0, 40.0


def _bars(histogram: Histogram) -> list[Bar]:
    """A histogram as SVG bars over a 160 x 40 box: the page draws it, no script needed."""
    top = max(histogram.counts, default=0) or 1
    slot = _WIDTH / max(len(histogram.counts), 1)
    edges = histogram.edges
    return [
        Bar(
            x=round(slot * i, 2),
            width=round(slot * 0.9, 2),
            height=round(_HEIGHT * count / top, 2),
            label=f"{edges[i]:.4g} to {edges[i + 1]:.4g}: {count:,} values",
        )
        for i, count in enumerate(histogram.counts)
    ]
