"""The studio's routes: one router per page module, in nav order. Their permissions are in
``resources/studio.py`` (every page is public as a page; its data is the API's)."""

from __future__ import annotations

from fastapi import APIRouter

from shipyard.studio.pages import (
    assets,
    compare,
    data,
    endpoints,
    experiments,
    home,
    jobs,
    lineage,
    model_card,
    models,
    monitors,
    runs,
    traces,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
for _module in (
    home,
    assets,
    experiments,
    runs,
    traces,
    compare,
    jobs,
    model_card,
    models,
    endpoints,
    monitors,
    data,
    lineage,
):
    router.include_router(_module.router)
