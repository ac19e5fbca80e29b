"""An experiment's traces (MLflow 3 tracing) and one trace: its span tree as a waterfall, a
span's inputs, outputs, attributes and events, the trace's tags, metadata and assessments.

Both read MLflow's trace routes (``/api/3.0/mlflow/traces/*``), the ones the ``mlflow``
client calls, in-process with the caller's credential like every page. Those answer errors
in MLflow's shape, which names no permission: a 403 is completed here with the route's
permission from the one rule table (``server/access.py``), so it says which roles allow it.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from shipyard.client import _convert
from shipyard.domain.tracking import Experiment
from shipyard.server.access import rule_for
from shipyard.studio.api import ApiError, StudioApi
from shipyard.studio.pages._trace_view import (
    TraceView,
    attachments_of,
    latency,
    payload,
    span_rows,
    spans_of,
    trace_view,
)
from shipyard.studio.render import page, render

__all__ = ["PAGE_SIZES", "router"]

router = APIRouter()

PAGE_SIZES = (25, 50, 100, 200)
_DEFAULT_SIZE = 50
_TRACES = "/api/3.0/mlflow/traces"
_RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what may be quoted into a filter as it is


async def _mlflow(api: StudioApi, method: str, path: str, **kw: Any) -> Any:
    """An MLflow route's answer; a 403 carries the route's permission (MLflow's error body
    has none), so the error page names the roles that would allow it."""
    try:
        return await api.call(method, path, **kw)
    except ApiError as error:
        rule = rule_for(method, path) if error.status == 403 and error.permission is None else None
        if rule is None:
            raise
        raise ApiError(error.status, error.code, error.message, permission=rule.permission) from error


async def _search(
    api: StudioApi, experiment_id: str, filter_string: str | None, size: int, page_token: str | None
) -> tuple[list[TraceView], str | None]:
    answer = await _mlflow(
        api,
        "POST",
        f"{_TRACES}/search",
        body={
            "experiment_ids": [experiment_id],
            "filter": filter_string,
            "order_by": ["timestamp_ms DESC"],
            "max_results": size,
            "page_token": page_token,
        },
    )
    return [trace_view(t) for t in answer.get("traces", [])], answer.get("next_page_token")


@router.get("/studio/experiments/{experiment_id}/traces")
@page
async def traces_page(
    request: Request,
    experiment_id: str,
    filter: str | None = Query(None, max_length=4000),  # noqa: A002 - the API's own word
    size: int = Query(_DEFAULT_SIZE),
    page_token: str | None = Query(None, max_length=2000),
) -> Response:
    api = StudioApi(request)
    experiment: Experiment = _convert.experiment(await api.get(f"/api/v1/experiments/{experiment_id}"))
    size = size if size in PAGE_SIZES else _DEFAULT_SIZE
    search_error: ApiError | None = None
    traces: list[TraceView] = []
    next_token = None
    try:
        traces, next_token = await _search(api, experiment.id, filter or None, size, page_token)
    except ApiError as error:
        if error.status != 400:
            raise
        search_error = error  # a filter the grammar refuses: shown beside the box, as the API said it
    slowest = max((t.duration or 0 for t in traces), default=0)
    state = {"filter": filter, "size": size if size != _DEFAULT_SIZE else None}

    def link(**changes: Any) -> str:
        merged = {k: v for k, v in {**state, **changes}.items() if v not in (None, "")}
        base = f"/studio/experiments/{experiment.id}/traces"
        return base + (f"?{urlencode(merged)}" if merged else "")

    return render(
        request, "traces.html", api=api, title=f"Traces · {experiment.name}", experiment=experiment,
        traces=traces, slowest=slowest, filter=filter or "", size=size, sizes=PAGE_SIZES,
        page_token=page_token, next_page_token=next_token, search_error=search_error, link=link,
        latency=latency,
    )  # fmt: skip


@router.get("/studio/experiments/{experiment_id}/traces/link")
@page
async def run_traces_link(
    request: Request, experiment_id: str, run_id: str = Query("", max_length=64)
) -> Response:
    """What the run page loads beside its header (htmx): a link to the run's traces if it
    has any, else nothing. An error leaves nothing too: the run page is not about traces."""
    api = StudioApi(request)
    found: list[TraceView] = []
    if _RUN_ID.match(run_id):
        try:
            found, _ = await _search(api, experiment_id, f"run_id = '{run_id}'", 1, None)
        except ApiError:
            found = []
    if not found:
        return HTMLResponse("", headers={"Cache-Control": "no-store"})
    return render(
        request, "_trace_run_link.html", api=api, experiment_id=experiment_id,
        query=urlencode({"filter": f"run_id = '{run_id}'"}),
    )  # fmt: skip


@router.get("/studio/traces/{trace_id}")
@page
async def trace_page(
    request: Request, trace_id: str, span: str | None = Query(None, max_length=64)
) -> Response:
    api = StudioApi(request)
    answer = await _mlflow(api, "GET", f"{_TRACES}/get", params={"trace_id": trace_id})
    trace = trace_view(answer["trace"]["trace_info"])
    rows = span_rows(spans_of(answer["trace"].get("spans") or []))
    selected = next((r for r in rows if r.span.span_id == span), rows[0] if rows else None)
    experiment: Experiment | None = None
    try:
        experiment = _convert.experiment(await api.get(f"/api/v1/experiments/{trace.experiment_id}"))
    except ApiError:
        experiment = None  # the breadcrumb then names its id; the trace itself was readable
    by_span: dict[str, int] = {}
    for a in trace.assessments:
        if a.span_id:
            by_span[a.span_id] = by_span.get(a.span_id, 0) + 1
    return render(
        request, "trace.html", api=api, title=f"Trace {trace.name or trace.id}", trace=trace,
        experiment=experiment, rows=rows, selected=selected, by_span=by_span, payload=payload,
        latency=latency, attachments=attachments_of(selected.span, trace.id) if selected else [],
    )  # fmt: skip
