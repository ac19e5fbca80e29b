"""Compare runs: a diff table of params and latest metrics (rows that differ flagged, or only
those), overlaid curves per chosen metric key (drawn by ``charts.js`` from down-sampled
history), and parallel coordinates of params and final metrics."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from shipyard.client import _convert
from shipyard.domain.tracking import Run
from shipyard.studio.api import StudioApi
from shipyard.studio.render import page, render

__all__ = ["MAX_RUNS", "Row", "diff_rows", "router"]

router = APIRouter()

MAX_RUNS = 50
_CHART_KEYS = 4  # curves drawn when the URL chooses none
_PARALLEL_PARAMS = 10
_PARALLEL_METRICS = 6
# Colours per run, shared by the table's legend and the charts (readable on light and dark).
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


@dataclass(frozen=True, slots=True)
class Row:
    kind: str  # params or metrics
    key: str
    values: tuple[Any, ...]  # one per run; None where a run lacks the key

    @property
    def differs(self) -> bool:
        return len(set(self.values)) > 1


def diff_rows(runs: list[Run]) -> list[Row]:
    params = sorted({k for r in runs for k in r.params})
    metrics = sorted({k for r in runs for k in r.metrics})
    rows = [Row("params", k, tuple(r.params.get(k) for r in runs)) for k in params]
    for key in metrics:
        found = (r.metrics.get(key) for r in runs)
        rows.append(Row("metrics", key, tuple(None if m is None else m.value for m in found)))
    return rows


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: a chart shows such a value as missing."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _message(request: Request, api: StudioApi, text: str, ids: list[str]) -> Response:
    return render(
        request, "compare.html", status=400, api=api, title="Compare runs", message=text, ids=ids,
        runs=[], rows=[], only_diff=False, keys=[], chosen=[], chart_data={}, parallel_data={}, link="",
    )  # fmt: skip


@router.get("/studio/compare")
@page
async def compare_page(
    request: Request,
    runs: list[str] = Query([], max_length=200),  # noqa: B008 - FastAPI's way to say a repeated query value
    keys: list[str] = Query([], max_length=200),  # noqa: B008
    only: str = Query("", max_length=10),
) -> Response:
    api = StudioApi(request)
    ids = list(dict.fromkeys(r.strip() for r in runs if r.strip()))  # order kept, repeats dropped
    if len(ids) < 2:
        return _message(request, api, f"Choose at least 2 runs to compare (got {len(ids)}).", ids)
    if len(ids) > MAX_RUNS:
        return _message(request, api, f"At most {MAX_RUNS} runs compare at once (got {len(ids)}).", ids)
    # An unknown id is the API's 404, shown by @page as the API said it.
    answers = await asyncio.gather(*(api.get(f"/api/v1/runs/{i}") for i in ids))
    found: list[Run] = [_convert.run(a) for a in answers]
    rows = diff_rows(found)
    only_diff = only == "diff"
    shown = [r for r in rows if r.differs] if only_diff else rows
    metric_keys = sorted({k for r in found for k in r.metrics})
    chosen = [k for k in keys if k in metric_keys] or [k for k in metric_keys if not k.startswith("system/")][
        :_CHART_KEYS
    ]
    people = [
        {"id": r.id, "name": r.name or r.id[:8], "color": PALETTE[i % len(PALETTE)]}
        for i, r in enumerate(found)
    ]
    # Parallel coordinates: the params that differ (all of them when none does), then final metrics.
    params = [r for r in rows if r.kind == "params"]
    axes_params = ([r for r in params if r.differs] or params)[:_PARALLEL_PARAMS]
    axes_metrics = [r for r in rows if r.kind == "metrics" and not r.key.startswith("system/")]
    axes = [
        {"name": r.key, "values": [_finite(v) for v in r.values]}
        for r in axes_params + axes_metrics[:_PARALLEL_METRICS]
    ]
    link = "/studio/compare?" + urlencode([("runs", i) for i in ids])
    return render(
        request, "compare.html", api=api, title=f"Compare {len(found)} runs", message=None, ids=ids,
        runs=list(zip(found, people, strict=True)), rows=shown, only_diff=only_diff, keys=metric_keys,
        chosen=chosen, chart_data={"runs": people}, parallel_data={"runs": people, "axes": axes}, link=link,
    )  # fmt: skip
