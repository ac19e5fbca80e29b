"""MLflow metric history: ``/api/2.0/mlflow/metrics/get-history`` (paged)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response

from shipyard.errors import InvalidArgument
from shipyard.server.deps import Ctx, Svc
from shipyard.server.mlflow._route import MlflowRoute, finite, ok, payload
from shipyard.server.mlflow.runs import RunIdIn

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
