"""MLflow's trace metrics: ``POST /api/3.0/mlflow/traces/metrics`` (``QueryTraceMetrics``),
what MLflow 3.17's UI charts (trace counts, latencies, token usage, span costs, assessment
values over time) and ``RestStore.query_trace_metrics`` calls.

The message is MLflow's protobuf JSON: enums by name or number, 64-bit integers as numbers
or strings; the answer is ``data_points`` of ``metric_name``, ``dimensions`` and ``values``
(keyed ``COUNT``, ``AVG``, ``P95.0``…), empty fields left out as protobuf's JSON does.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import Field

from shipyard.domain.trace_metrics import AGGREGATION_TYPES as AGGREGATIONS
from shipyard.domain.trace_metrics import MAX_METRIC_RESULTS, VIEW_TYPES
from shipyard.errors import InvalidArgument
from shipyard.server.deps import Ctx, Svc
from shipyard.server.mlflow._route import MlflowIn, MlflowRoute, finite, missing_value, ok, payload
from shipyard.server.mlflow.experiments import resolve_experiment_id
from shipyard.services.trace_metrics import MetricPoint, TraceMetricsService

__all__ = ["router"]

router = APIRouter(route_class=MlflowRoute)


class _Aggregation(MlflowIn):
    aggregation_type: str | int | None = None
    percentile_value: float | None = None


class QueryIn(MlflowIn):
    experiment_ids: list[str] = Field(default_factory=list)
    view_type: str | int | None = None
    metric_name: str | None = None
    aggregations: list[_Aggregation] = Field(default_factory=list)
    dimensions: list[str] = Field(default_factory=list)
    filters: list[str] = Field(default_factory=list)
    time_interval_seconds: int | None = None
    start_time_ms: int | None = None
    end_time_ms: int | None = None
    max_results: int | None = None
    page_token: str | None = None


def _enum(field: str, value: str | int, names: tuple[str, ...]) -> str:
    """A protobuf enum as JSON carries it: its name, or its number (counted from 1 here)."""
    if isinstance(value, int) and 1 <= value <= len(names):
        return names[value - 1]
    if isinstance(value, str) and value in names:
        return value
    raise InvalidArgument(f"Invalid value {value!r} for parameter '{field}': expected one of {list(names)}")


def _point(point: MetricPoint) -> dict[str, Any]:
    out: dict[str, Any] = {"metric_name": point.metric_name}
    if point.dimensions:
        out["dimensions"] = point.dimensions
    out["values"] = {label: finite(value) for label, value in point.values.items()}
    return out


@router.post("/traces/metrics")
def query_trace_metrics(ctx: Ctx, svc: Svc, body: Annotated[QueryIn, payload(QueryIn)]) -> Response:
    for name, given in (
        ("experiment_ids", body.experiment_ids),
        ("view_type", body.view_type),
        ("metric_name", body.metric_name),
        ("aggregations", body.aggregations),
    ):
        if given is None or given in ([], ""):
            raise missing_value(name)
    assert body.view_type is not None  # checked just above
    assert body.metric_name is not None
    aggregations = [
        (_enum("aggregation_type", a.aggregation_type or 0, AGGREGATIONS), a.percentile_value)
        for a in body.aggregations
    ]
    points, token = svc.get("trace_metrics", TraceMetricsService).query(
        ctx,
        [resolve_experiment_id(ctx, svc.tracking, e) for e in body.experiment_ids],
        view=_enum("view_type", body.view_type, VIEW_TYPES),
        metric=body.metric_name,
        aggregations=aggregations,
        dimensions=body.dimensions,
        filters=body.filters,
        interval_seconds=body.time_interval_seconds,
        start_ms=body.start_time_ms,
        end_ms=body.end_time_ms,
        max_results=MAX_METRIC_RESULTS if body.max_results is None else body.max_results,
        page_token=body.page_token,
    )
    out: dict[str, Any] = {}
    if points:
        out["data_points"] = [_point(p) for p in points]
    if token:
        out["next_page_token"] = token
    return ok(out)
