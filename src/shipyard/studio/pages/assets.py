"""The studio's static files, from a fixed list: no path a client sends reaches the disk."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from shipyard.errors import NotFound

__all__ = ["ASSETS", "router"]

router = APIRouter()

_DIR = Path(__file__).resolve().parent.parent / "static"
ASSETS = {
    "studio.css": "text/css",
    "studio.js": "application/javascript",
    "charts.js": "application/javascript",  # metric curves, compare, parallel coordinates
    "jobs.js": "application/javascript",  # pipeline graph, sweep scatter, log tail
    "ops.js": "application/javascript",  # traffic form, try-it, live endpoint figures, drift
    "vendor/uPlot.iife.min.js": "application/javascript",
    "vendor/uPlot.min.css": "text/css",
    "vendor/htmx.min.js": "application/javascript",
}


@router.get("/studio/static/{name:path}")
def asset(name: str) -> FileResponse:
    media = ASSETS.get(name)
    if media is None:
        raise NotFound(f"no studio asset {name!r}")
    # The version is in each asset's URL (?v=), so a day's cache never serves an old file.
    return FileResponse(_DIR / name, media_type=media, headers={"Cache-Control": "max-age=86400"})
