"""Monitors and a monitor's page: each signal's values over its runs against the threshold,
per-feature drift with the reference and production histograms side by side, the breaches
and what each triggered (a retraining job, a webhook, an e-mail), and each run's report.

All of it from ``GET /api/v1/monitors`` and ``GET /api/v1/monitors/{name}?histograms=true``
(a monitor's runs are jobs: reading them needs ``jobs:read``).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from shipyard.api.monitors import Monitor, MonitorDetails, MonitorRow, MonitorRun, MonitorSignal
from shipyard.client._convert import decode
from shipyard.studio.api import ApiError, StudioApi
from shipyard.studio.render import page, render

__all__ = [
    "Chart",
    "Histogram",
    "details",
    "histogram",
    "monitor_context",
    "router",
    "signal_charts",
    "trigger_text",
]

router = APIRouter()

RUNS = (10, 20, 50, 100)  # how many runs the page may ask for (the API allows 1-500)
_PARALLEL = 8
_REPORT = "monitor/report.html"  # services/monitoring/runner.py REPORT_HTML


def details(data: dict[str, Any]) -> MonitorDetails:
    """``MonitorDetails`` with its nested runs, signals and rows (``decode`` is one level)."""

    def signal(s: dict[str, Any]) -> MonitorSignal:
        return decode(MonitorSignal, {**s, "rows": [decode(MonitorRow, r) for r in s.get("rows") or []]})

    def run(r: dict[str, Any]) -> MonitorRun:
        return decode(MonitorRun, {**r, "signals": [signal(s) for s in r.get("signals") or []]})

    return MonitorDetails(monitor=decode(Monitor, data["monitor"]), runs=[run(r) for r in data["runs"]])


def trigger_text(trigger: dict[str, Any]) -> str:
    """A schedule's trigger in words, from the API's ``trigger`` object."""
    if trigger.get("expression"):
        return f"cron {trigger['expression']}" + (
            f" ({trigger['time_zone']})" if trigger.get("time_zone") else ""
        )
    if trigger.get("frequency"):
        interval = int(trigger.get("interval") or 1)
        unit = str(trigger["frequency"])
        every = f"every {unit}" if interval == 1 else f"every {interval} {unit}s"
        hours, minutes = trigger.get("hours") or [], trigger.get("minutes") or []
        if hours or minutes:
            at = [f"{h:02d}:{m:02d}" for h in (hours or [0]) for m in (minutes or [0])]
            every += " at " + ", ".join(at[:6]) + ("…" if len(at) > 6 else "")
        return every + (f" ({trigger['time_zone']})" if trigger.get("time_zone") not in (None, "UTC") else "")
    return json.dumps(trigger, sort_keys=True)


@dataclass(frozen=True, slots=True)
class Chart:
    """One metric of one signal (and column) over the runs, oldest first: what ops.js draws."""

    signal: str
    column: str | None
    metric: str
    breach_when: str
    x: list[float] = field(default_factory=list)
    """Seconds (the run's generated_at, else its created_at)."""
    values: list[float | None] = field(default_factory=list)
    threshold: list[float] = field(default_factory=list)
    breached: list[bool] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{self.column} · {self.metric}" if self.column else self.metric

    @property
    def ever_breached(self) -> bool:
        return any(self.breached)

    def json(self) -> str:
        return json.dumps(
            {
                "metric": self.metric,
                "breach_when": self.breach_when,
                "x": self.x,
                "values": self.values,
                "threshold": self.threshold,
                "breached": self.breached,
            }
        )


def signal_charts(found: MonitorDetails) -> dict[str, list[Chart]]:
    """Per signal, one chart per (column, metric), over every run oldest first. A run where
    the signal failed (``error``), or had no such row, is a gap (None), never a made-up point;
    the threshold line carries the nearest run's threshold across it."""
    runs = sorted(found.runs, key=lambda r: r.generated_at or r.created_at)
    x = [(r.generated_at or r.created_at) / 1000 for r in runs]
    rows: dict[str, dict[tuple[str | None, str], dict[int, MonitorRow]]] = {}
    for index, run in enumerate(runs):
        for s in run.signals:
            for row in s.rows:
                rows.setdefault(s.name, {}).setdefault((row.column, row.metric), {})[index] = row
    charts: dict[str, list[Chart]] = {}
    for signal, by_key in rows.items():
        for (column, metric), got in sorted(by_key.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
            first = got[min(got)]
            chart = Chart(signal, column, metric, first.breach_when, x=list(x))
            threshold = first.threshold
            for index in range(len(runs)):
                at = got.get(index)
                threshold = at.threshold if at is not None else threshold
                chart.values.append(None if at is None else at.value)
                chart.threshold.append(threshold)
                chart.breached.append(at is not None and at.breached)
            charts.setdefault(signal, []).append(chart)
    return charts


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    reference: float
    """Share of the reference's rows, 0-1."""
    current: float


@dataclass(frozen=True, slots=True)
class Histogram:
    """A column's reference and production distributions as shares, drawn as paired bars."""

    column: str
    kind: str
    bars: list[Bar]
    note: str = ""

    @property
    def top(self) -> float:
        return max([max(b.reference, b.current) for b in self.bars] or [0.0]) or 1.0


def _share(counts: list[Any]) -> list[float]:
    total = sum(float(c) for c in counts)
    return [float(c) / total if total else 0.0 for c in counts]


def _edge(value: float) -> str:
    return f"{value:.4g}"


def histogram(column: str, data: dict[str, Any]) -> Histogram:
    """The API's histogram of a column (compare.histograms_of): numerical bins have one more
    count than edges, the end bins closed by ``minimum``/``maximum``; categorical bins are
    the reference's categories, with production's unseen values counted apart."""
    reference = _share(list(data.get("reference") or []))
    current = _share(list(data.get("current") or []))
    if data.get("kind") == "numerical":
        edges = [float(e) for e in data.get("edges") or []]
        bounds = [float(data.get("minimum", edges[0] if edges else 0)), *edges]
        bounds.append(float(data.get("maximum", edges[-1] if edges else 0)))
        labels = [f"{_edge(bounds[i])} to {_edge(bounds[i + 1])}" for i in range(len(bounds) - 1)]
        note = ""
    else:
        labels = [str(c) for c in data.get("categories") or []]
        unseen = data.get("unseen") or 0
        note = f"{unseen} production values of categories the reference never had" if unseen else ""
    size = min(len(labels), len(reference), len(current))
    bars = [Bar(labels[i], reference[i], current[i]) for i in range(size)]
    return Histogram(column, str(data.get("kind", "")), bars, note)


def histograms(run: MonitorRun | None) -> dict[str, list[Histogram]]:
    if run is None:
        return {}
    found: dict[str, list[Histogram]] = {}
    for s in run.signals:
        if s.histograms:
            found[s.name] = [histogram(c, h) for c, h in sorted(s.histograms.items()) if isinstance(h, dict)]
    return found


async def _latest(api: StudioApi, name: str) -> MonitorRun | ApiError | None:
    try:
        found = details(await api.get(f"/api/v1/monitors/{name}", runs=1))
    except ApiError as error:
        return error
    return found.runs[0] if found.runs else None


@router.get("/studio/monitors")
@page
async def monitors_page(request: Request) -> Response:
    api = StudioApi(request)
    monitors = [decode(Monitor, m) for m in (await api.get("/api/v1/monitors"))["monitors"]]
    gate = asyncio.Semaphore(_PARALLEL)

    async def latest(name: str) -> MonitorRun | ApiError | None:
        async with gate:
            return await _latest(api, name)

    runs = await asyncio.gather(*(latest(m.name) for m in monitors))
    return render(
        request, "monitors.html", api=api, title="Monitors", monitors=monitors,
        latest=dict(zip([m.name for m in monitors], runs, strict=True)), trigger_text=trigger_text,
        is_error=lambda v: isinstance(v, ApiError),
    )  # fmt: skip


@router.get("/studio/monitors/{name}")
@page
async def monitor_page(request: Request, name: str, runs: str = Query("20")) -> Response:
    api = StudioApi(request)
    # A bad ?runs= is not worth an error page: the default, said beside the picker.
    count = int(runs) if runs in {str(c) for c in RUNS} else 20
    found = details(await api.get(f"/api/v1/monitors/{name}", runs=count, histograms="true"))
    return render(
        request, "monitor.html", api=api, title=found.monitor.name, **monitor_context(found, count, runs)
    )


def monitor_context(found: MonitorDetails, count: int, asked: str) -> dict[str, Any]:
    """What monitor.html shows of an answer (a function, so it is tested on API-shaped data)."""
    return {
        "monitor": found.monitor,
        "runs": found.runs,
        "charts": signal_charts(found),
        "histograms": histograms(found.runs[0] if found.runs else None),
        "breaches": [r for r in found.runs if r.breached or r.actions],
        "count": count,
        "counts": RUNS,
        "asked": asked,
        "report": _REPORT,
        "trigger_text": trigger_text,
    }
