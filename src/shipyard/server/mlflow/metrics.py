"""MLflow metric history: ``metrics/get-history`` (paged) and ``get-history-bulk-interval``
(the charts' points, picked as MLflow picks them: :func:`~shipyard.services.tracking.evenly_spread`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response

from shipyard.errors import InvalidArgument
from shipyard.server.deps import Ctx, Svc
from shipyard.server.mlflow._route import MlflowIn, MlflowRoute, finite, missing_value, ok, payload
from shipyard.server.mlflow.runs import RunIdIn
from shipyard.services.tracking import MAX_INTERVAL_POINTS

__all__ = ["MAX_HISTORY_PAGE", "router"]

router = APIRouter(route_class=MlflowRoute)

# The client asks for pages of 25,000 (GET_METRIC_HISTORY_MAX_RESULTS) and follows tokens.
MAX_HISTORY_PAGE = 25_000


class HistoryIn(RunIdIn):
    metric_key: str
    max_results: int | None = None
    page_token: str | None = None


@router.get("/metrics/get-history")
def get_history(ctx: Ctx, svc: Svc, body: Annotated[HistoryIn, payload(HistoryIn)]) -> Response:
    size = MAX_HISTORY_PAGE if body.max_results is None else body.max_results
    if not 1 <= size <= MAX_HISTORY_PAGE:
        raise InvalidArgument(f"max_results must be between 1 and {MAX_HISTORY_PAGE}; got {size}")
    found = svc.tracking.metric_history(
        ctx, body.id, body.metric_key, max_results=size, page_token=body.page_token or None
    )
    key = found.key
    metrics = [
        {"key": key, "value": finite(v), "timestamp": ts, "step": step}
        for step, v, ts in zip(found.steps, found.values, found.timestamps, strict=True)
    ]
    out: dict[str, object] = {"metrics": metrics}
    if found.next_page_token:
        out["next_page_token"] = found.next_page_token
    return ok(out)


class IntervalIn(MlflowIn):
    run_ids: list[str]
    metric_key: str
    start_step: int | None = None
    end_step: int | None = None
    max_results: int = MAX_INTERVAL_POINTS


@router.get("/metrics/get-history-bulk-interval")
def get_history_bulk_interval(
    ctx: Ctx, svc: Svc, body: Annotated[IntervalIn, payload(IntervalIn)]
) -> Response:
    if not body.run_ids:
        raise missing_value("run_ids")  # the request check's words, as MLflow's handler says it
    found = svc.tracking.metric_intervals(
        ctx,
        body.run_ids,
        body.metric_key,
        start_step=body.start_step,
        end_step=body.end_step,
        max_points=body.max_results,
    )
    metrics = [
        {"key": body.metric_key, "value": finite(v), "timestamp": ts, "step": step, "run_id": run_id}
        for run_id, points in found
        for step, ts, v in points
    ]
    return ok({"metrics": metrics})
