"""Jobs: the list (status filter and pages as the API gives them) and a job's page — its
header, status timeline, failure, inputs and outputs, the run it logged into, the schedule
that fired it, its log tail (followed live by ``jobs.js``), a pipeline's step graph and a
sweep's trials with one scatter of the objective per hyperparameter.

The graph and the scatters are SVG computed here: they are small (a pipeline's steps, a
sweep's trials, both bounded by the job file), need no script to be read, and the layout is
plain Python a unit test can check.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from shipyard.client.jobs import job_from_json
from shipyard.domain.jobs import ACTIVE, TERMINAL, Job, JobStatus
from shipyard.studio.api import ApiError, StudioApi
from shipyard.studio.pages._automl_view import automl_view
from shipyard.studio.render import page, render

__all__ = [
    "Graph",
    "Scatter",
    "job_page",
    "jobs_page",
    "layers",
    "layout_pipeline",
    "pipeline_graph",
    "router",
    "sweep_scatter",
    "sweep_view",
]

router = APIRouter()

PAGE_SIZES = (25, 50, 100, 250)
STATUSES = tuple(s.value for s in JobStatus)
TERMINAL_NAMES = frozenset(s.value for s in TERMINAL)
LOG_LINES = 500  # lines of the server-rendered tail; jobs.js keeps up to 5,000
_LOG_READS = 8  # the log endpoint answers up to 1 MiB a call: at most 8 MiB read per page
_LOG_CALL_MAX = 2 << 20  # more than the endpoint answers in one call (1 MiB)
_LOG_KEEP = 256 * 1024  # bytes kept while reading (the tail is what is shown)
_MAX_EXPERIMENTS = 25  # experiment names looked up for one page of jobs


# -- times ---------------------------------------------------------------------------------


def started_at(job: Job) -> int | None:
    """When the job first left the queue (Preparing or Running)."""
    return next((e.at for e in job.events if e.status in ACTIVE), None)


def ended_at(job: Job) -> int | None:
    return next((e.at for e in reversed(job.events) if e.status in TERMINAL), None) if job.done else None


def job_duration(job: Job, now_ms: int | None = None) -> tuple[int | None, int | None]:
    """(start, end) for ``duration()``: a job still active runs until now."""
    start = started_at(job)
    if start is None:
        return None, None
    end = ended_at(job)
    if end is None and not job.done:
        end = now_ms if now_ms is not None else int(time.time() * 1000)
    return start, end


def schedule_of(spec: Mapping[str, Any]) -> tuple[str, str] | None:
    """The schedule that fired the job (its name and tick), from the tags the firer adds."""
    tags = spec.get("tags") or (spec.get("file") or {}).get("tags") or {}
    if not isinstance(tags, Mapping) or "shipyard.schedule.name" not in tags:
        return None
    return str(tags["shipyard.schedule.name"]), str(tags.get("shipyard.schedule.tick", ""))


# -- the pipeline graph --------------------------------------------------------------------


def layers(order: Sequence[str], preds: Mapping[str, Iterable[str]]) -> dict[str, int]:
    """Longest-path layering: a step sits one layer below the deepest step it reads from,
    so every edge points down. A step naming an unknown step (or a cycle, which the server
    refuses anyway) does not loop: what cannot be placed goes to the last layer + 1."""
    layer: dict[str, int] = {}
    pending = list(order)
    while pending:
        placed = False
        for step in list(pending):
            ups = [p for p in preds.get(step, ()) if p in order]
            if all(p in layer for p in ups):
                layer[step] = 1 + max((layer[p] for p in ups), default=-1)
                pending.remove(step)
                placed = True
        if not placed:
            deepest = max(layer.values(), default=-1)
            for step in pending:
                layer[step] = deepest + 1
            break
    return layer


@dataclass(frozen=True, slots=True)
class Node:
    step: str
    x: float
    y: float
    status: str  # completed, failed, canceled, skipped, reused, running, queued, …, pending
    job: str | None  # the child job's name, when it exists
    why: str = ""
    reused_from: str | None = None
    source_job: str | None = None

    @property
    def label(self) -> str:
        return self.step if len(self.step) <= 18 else self.step[:17] + "…"


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    label: str  # output → input
    path: str  # SVG path data


@dataclass(frozen=True, slots=True)
class Graph:
    nodes: list[Node]
    edges: list[Edge]
    width: float
    height: float
    node_w: float
    node_h: float


NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 150.0, 48.0, 20.0, 44.0, 8.0


def layout_pipeline(
    order: Sequence[str],
    upstream: Mapping[str, Mapping[str, tuple[str, str]]],
    states: Mapping[str, Mapping[str, Any]],
) -> Graph:
    """Steps top to bottom by layer (a pipeline is deeper than wide, which suits a phone's
    screen); within a layer, by the mean position of the steps they read from (fewer
    crossings), else in the file's order. ``upstream``: step → input → (step, output);
    ``states``: step → ``status``, ``job``, ``why``, ``reused_from``, ``source_job``."""
    preds = {s: [up for up, _ in upstream.get(s, {}).values()] for s in order}
    layer = layers(order, preds)
    rows: dict[int, list[str]] = {}
    for step in order:
        rows.setdefault(layer[step], []).append(step)
    place: dict[str, float] = {}
    for depth in sorted(rows):
        first = {step: float(i) for i, step in enumerate(rows[depth])}

        def centre(step: str, first: dict[str, float] = first) -> tuple[float, int]:
            ups = [place[p] for p in preds[step] if p in place]
            return (sum(ups) / len(ups) if ups else first[step], order.index(step))

        row = rows[depth] = sorted(rows[depth], key=centre)
        for i, step in enumerate(row):
            place[step] = float(i)
    widest = max((len(r) for r in rows.values()), default=0)
    width = PAD * 2 + widest * NODE_W + max(widest - 1, 0) * GAP_X
    height = PAD * 2 + len(rows) * NODE_H + max(len(rows) - 1, 0) * GAP_Y
    at: dict[str, tuple[float, float]] = {}
    nodes = []
    for depth in sorted(rows):
        row = rows[depth]
        span = len(row) * NODE_W + (len(row) - 1) * GAP_X
        left = (width - span) / 2  # each row centred
        for i, step in enumerate(row):
            x, y = left + i * (NODE_W + GAP_X), PAD + depth * (NODE_H + GAP_Y)
            at[step] = (x, y)
            state = states.get(step, {})
            nodes.append(
                Node(
                    step,
                    x,
                    y,
                    str(state.get("status") or "pending"),
                    state.get("job"),
                    str(state.get("why") or ""),
                    state.get("reused_from"),
                    state.get("source_job"),
                )
            )
    edges = []
    for step in order:
        for input_name, (source, output) in upstream.get(step, {}).items():
            if source not in at:
                continue
            (sx, sy), (tx, ty) = at[source], at[step]
            x1, y1, x2, y2 = sx + NODE_W / 2, sy + NODE_H, tx + NODE_W / 2, ty
            bend = max((y2 - y1) / 2, 12.0)
            path = f"M{x1:.1f},{y1:.1f} C{x1:.1f},{y1 + bend:.1f} {x2:.1f},{y2 - bend:.1f} {x2:.1f},{y2:.1f}"
            edges.append(Edge(source, step, f"{source}.{output} → {step}.{input_name}", path))
    return Graph(nodes, edges, width, height, NODE_W, NODE_H)


def pipeline_graph(spec: Mapping[str, Any], report: Mapping[str, Any], children: Sequence[Job]) -> Graph:
    """The graph of a pipeline job as the API shows it: the steps and their bindings from
    its ``spec`` (``steps.<s>.upstream``: input → [step, output]), each step's state from
    its ``report`` (reused, skipped, why it ran) and its child job (the live status)."""
    steps: Mapping[str, Any] = spec.get("steps") or {}
    order = [str(s) for s in (spec.get("order") or list(steps))]
    upstream = {
        s: {
            str(i): (str(v[0]), str(v[1]))
            for i, v in ((steps.get(s) or {}).get("upstream") or {}).items()
            if isinstance(v, list | tuple) and len(v) == 2
        }
        for s in order
    }
    by_step = {c.step: c for c in children if c.step}
    reported: Mapping[str, Any] = report.get("steps") or {}
    states: dict[str, dict[str, Any]] = {}
    for s in order:
        entry = dict(reported.get(s) or {})
        child = by_step.get(s)
        status = entry.get("status")
        if status not in ("reused", "skipped") and child is not None:
            status = child.status.value.lower()  # the child's own status is the live one
        states[s] = {
            "status": status or "pending",
            "job": child.name if child is not None else entry.get("job"),
            "why": entry.get("why") or "",
            "reused_from": entry.get("reused_from"),
            "source_job": entry.get("source_job"),
        }
    return layout_pipeline(order, upstream, states)


# -- the sweep -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Point:
    x: float
    y: float
    trial: str
    kind: str  # completed, stopped, other (failed with a value, running)
    best: bool
    title: str


@dataclass(frozen=True, slots=True)
class Scatter:
    param: str
    log: bool
    points: list[Point]
    x_ticks: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    width: float = 320.0
    height: float = 200.0
    left: float = 52.0  # room for the objective's tick labels
    bottom: float = 30.0
    missing: int = 0  # trials without an objective value or this parameter: not drawn
    plot_w: float = field(init=False)
    plot_h: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "plot_w", self.width - self.left - 10)
        object.__setattr__(self, "plot_h", self.height - self.bottom - 10)


_LOG_TYPES = frozenset({"loguniform", "qloguniform", "lognormal", "qlognormal"})


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    if hi <= lo:
        return [lo]
    return [lo + (hi - lo) * i / (n - 1) for i in range(n)]


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def sweep_scatter(
    param: str, space: Mapping[str, Any], trials: Sequence[Mapping[str, Any]], metric: str, best: str | None
) -> Scatter:
    """One hyperparameter against the objective (each trial's last logged value): numbers on
    a linear axis (log for log-uniform/normal spaces), anything else as categories in the
    order the search space lists them. Early-stopped trials are their own kind (drawn in
    another colour and marker); the best trial is marked."""
    log = str(space.get("type", "")).lower() in _LOG_TYPES
    drawn = [
        t for t in trials
        if _finite(t.get("value")) is not None and param in (t.get("params") or {})
    ]  # fmt: skip
    missing = len(trials) - len(drawn)
    xs_raw = [(t.get("params") or {})[param] for t in drawn]
    numeric = all(_finite(v) is not None for v in xs_raw) and bool(xs_raw)
    if numeric and log:
        numeric = all(float(v) > 0 for v in xs_raw)
        log = numeric
    empty = Scatter(param, log, [], [], [], missing=missing)
    if not drawn:
        return empty
    ys = [float(t["value"]) for t in drawn]
    y_lo, y_hi = min(ys), max(ys)
    if y_lo == y_hi:
        y_lo, y_hi = (
            y_lo - 0.5 if y_lo == 0 else y_lo - abs(y_lo) * 0.05,
            y_hi + 0.5 if y_hi == 0 else y_hi + abs(y_hi) * 0.05,
        )
    categories: list[str] = []
    if numeric:
        xs = [math.log10(float(v)) if log else float(v) for v in xs_raw]
        x_lo, x_hi = min(xs), max(xs)
        if x_lo == x_hi:
            x_lo, x_hi = x_lo - 1, x_hi + 1
    else:
        listed = [str(v) for v in (space.get("values") or [])]
        seen = {str(v) for v in xs_raw}
        categories = [c for c in listed if c in seen] + sorted(seen - set(listed))
        xs = [float(categories.index(str(v))) for v in xs_raw]
        x_lo, x_hi = -0.5, len(categories) - 0.5
    base = Scatter(param, log, [], [], [], missing=missing)

    def sx(v: float) -> float:
        return base.left + (v - x_lo) / (x_hi - x_lo) * base.plot_w

    def sy(v: float) -> float:
        return 10 + (1 - (v - y_lo) / (y_hi - y_lo)) * base.plot_h

    points = []
    for t, x, y, raw in zip(drawn, xs, ys, xs_raw, strict=True):
        state = str(t.get("state", ""))
        kind = state if state in ("completed", "stopped") else "other"
        step = str(t.get("step", ""))
        note = f"{step}: {param}={raw}, {metric}={y:.6g} ({state})"
        if state == "stopped" and t.get("stopped_by"):
            note += f"; {t['stopped_by']}"
        points.append(Point(round(sx(x), 1), round(sy(y), 1), step, kind, step == best, note))
    if numeric:
        x_ticks = [(round(sx(v), 1), _fmt(10**v if log else v)) for v in _ticks(x_lo, x_hi)]
    else:
        x_ticks = [
            (round(sx(float(i)), 1), c if len(c) <= 10 else c[:9] + "…") for i, c in enumerate(categories)
        ]
    y_ticks = [(round(sy(v), 1), _fmt(v)) for v in _ticks(y_lo, y_hi)]
    return Scatter(param, log, points, x_ticks, y_ticks, missing=missing)


@dataclass(frozen=True, slots=True)
class SweepView:
    metric: str
    goal: str
    params: list[str]
    space: dict[str, Any]
    trials: list[dict[str, Any]]  # report trials, each with ``job`` (its child job, if known)
    best: dict[str, Any] | None
    summary: list[str]
    scatters: list[Scatter]


def sweep_view(spec: Mapping[str, Any], report: Mapping[str, Any], children: Sequence[Job]) -> SweepView:
    """A sweep as the API shows it: the search space and objective from its ``spec.file``,
    the trials and best one from its ``report`` (empty until a server starts it)."""
    file: Mapping[str, Any] = spec.get("file") or {}
    space: dict[str, Any] = {str(k): v for k, v in (file.get("search_space") or {}).items()}
    objective: Mapping[str, Any] = file.get("objective") or {}
    metric = str(report.get("primary_metric") or objective.get("primary_metric") or "objective")
    goal = str(report.get("goal") or objective.get("goal") or "")
    by_step = {c.step: c.name for c in children if c.step}
    best = report.get("best") if isinstance(report.get("best"), Mapping) else None
    trials = []
    for raw in report.get("trials") or []:
        if isinstance(raw, Mapping):
            trial = dict(raw)
            trial["job"] = by_step.get(str(trial.get("step")))
            trials.append(trial)
    params = list(space) + sorted({p for t in trials for p in (t.get("params") or {})} - set(space))
    best_step = str(best["trial"]) if best and best.get("trial") else None
    spaces = {p: v for p, v in space.items() if isinstance(v, Mapping)}
    scatters = [sweep_scatter(p, spaces.get(p, {}), trials, metric, best_step) for p in params]
    summary = [str(s) for s in report.get("summary") or []] if isinstance(report.get("summary"), list) else []
    return SweepView(metric, goal, params, space, trials, dict(best) if best else None, summary, scatters)


# -- the log -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogTail:
    text: str
    offset: int  # bytes read: where jobs.js goes on from
    status: str
    truncated: bool  # earlier lines not shown
    behind: bool  # more was there than this page read: jobs.js catches up
    error: ApiError | None = None


async def _log_chunk(request: Request, api: StudioApi, name: str, offset: int) -> tuple[bytes, str]:
    # The log is text/plain: read as bytes, with the caller's credential, like any API call.
    found = await api.head(f"/api/v1/jobs/{quote(name, safe='')}/logs", _LOG_CALL_MAX, offset=offset)
    return found.body, found.headers.get("shipyard-job-status", "")


async def read_log_tail(request: Request, api: StudioApi, name: str, status: str) -> LogTail:
    """The log's last lines. The API has no "tail" (only a byte offset), so the page reads
    from the start, up to ``_LOG_READS`` calls, keeping the last ``_LOG_KEEP`` bytes."""
    kept = bytearray()
    offset, dropped, behind = 0, False, False
    try:
        for attempt in range(_LOG_READS + 1):
            if attempt == _LOG_READS:
                behind = True
                break
            data, status = await _log_chunk(request, api, name, offset)
            if not data:
                break
            offset += len(data)
            kept += data
            if len(kept) > _LOG_KEEP:
                del kept[: len(kept) - _LOG_KEEP]
                dropped = True
    except ApiError as error:
        return LogTail("", 0, status, False, False, error)
    lines = bytes(kept).decode("utf-8", errors="replace").split("\n")
    if dropped:
        lines = lines[1:]  # the first one was cut in the middle
    truncated = dropped or len(lines) > LOG_LINES
    return LogTail("\n".join(lines[-LOG_LINES:]), offset, status, truncated, behind)


# -- pages ---------------------------------------------------------------------------------


async def _experiment_names(api: StudioApi, ids: Iterable[str]) -> dict[str, str]:
    """Experiment id → name; an experiment the caller may not read keeps its id."""
    wanted = list(dict.fromkeys(i for i in ids if i))[:_MAX_EXPERIMENTS]

    async def one(eid: str) -> tuple[str, str]:
        try:
            return eid, str((await api.get(f"/api/v1/experiments/{quote(eid, safe='')}"))["name"])
        except ApiError:
            return eid, eid

    return dict(await asyncio.gather(*(one(i) for i in wanted)))


def _size(text: str | None) -> int:
    try:
        value = int(text or "")
    except ValueError:
        return 50
    return value if value in PAGE_SIZES else 50


@router.get("/studio/jobs")
@page
async def jobs_page(
    request: Request,
    status: Annotated[list[str] | None, Query()] = None,
    size: str | None = Query(None, max_length=10),
    page_token: str | None = Query(None, max_length=2000),
) -> Response:
    api = StudioApi(request)
    rows = _size(size)
    chosen = [s for s in status or [] if s]
    jobs: list[Job] = []
    next_token = None
    list_error: ApiError | None = None
    try:
        answer = await api.get("/api/v1/jobs", status=chosen or None, max_results=rows, page_token=page_token)
        jobs = [job_from_json(j) for j in answer["jobs"]]
        next_token = answer.get("next_page_token")
    except ApiError as error:
        if error.status != 400:
            raise
        list_error = error  # an unknown status or a stale page token: said above the table
    names = await _experiment_names(api, (j.experiment_id for j in jobs))
    now = int(time.time() * 1000)

    def link(**changes: Any) -> str:
        merged: dict[str, Any] = {"status": chosen, "size": rows if rows != 50 else None, **changes}
        query = urlencode({k: v for k, v in merged.items() if v not in (None, "", [])}, doseq=True)
        return "/studio/jobs" + (f"?{query}" if query else "")

    return render(
        request, "jobs.html", api=api, title="Jobs", jobs=jobs, statuses=STATUSES, chosen=chosen,
        size=rows, sizes=PAGE_SIZES, page_token=page_token, next_page_token=next_token,
        list_error=list_error, experiment_names=names, timing=lambda j: job_duration(j, now), link=link,
    )  # fmt: skip


@router.get("/studio/jobs/{name}")
@page
async def job_page(request: Request, name: str) -> Response:
    api = StudioApi(request)
    job = job_from_json(await api.get(f"/api/v1/jobs/{quote(name, safe='')}"))
    children: list[Job] = []
    children_error: ApiError | None = None
    if not job.leaf:
        try:
            answer = await api.get("/api/v1/jobs", parent=job.name, max_results=1000)
            children = [job_from_json(j) for j in answer["jobs"]]
        except ApiError as error:
            children_error = error
    names = await _experiment_names(api, [job.experiment_id])
    log = await read_log_tail(request, api, job.name, job.status.value)
    graph = pipeline_graph(job.spec, job.report, children) if job.type == "pipeline" else None
    sweep = sweep_view(job.spec, job.report, children) if job.type == "sweep" else None
    automl = automl_view(job.spec, job.report, children) if job.type == "automl" else None
    file: Mapping[str, Any] = job.spec.get("file") or {}
    inputs = job.spec.get("inputs") if job.leaf else file.get("inputs")
    outputs = job.spec.get("outputs") if job.leaf else file.get("outputs")
    summary = job.report.get("summary")
    return render(
        request, "job.html", api=api, title=job.display_name or job.name, job=job,
        experiment_name=names.get(job.experiment_id, job.experiment_id), children=children,
        children_error=children_error, log=log, graph=graph, sweep=sweep, automl=automl,
        inputs=inputs if isinstance(inputs, Mapping) else {},
        outputs=outputs if isinstance(outputs, Mapping) else {},
        report_outputs=job.report.get("outputs") if isinstance(job.report.get("outputs"), Mapping) else {},
        summary=[str(s) for s in summary] if isinstance(summary, list) else [],
        schedule=schedule_of(job.spec), timing=job_duration(job), terminal=sorted(TERMINAL_NAMES),
    )  # fmt: skip
