"""/api/v1/runs/{run_id}/metrics: bulk ingest and history.

Both directions skip FastAPI's generic JSON handling: the batch is validated straight from
the raw bytes by pydantic-core, and history is encoded with orjson. At a million points
the generic path costs more than the database does.
"""

from __future__ import annotations

import math
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from shipyard.errors import InvalidArgument, PayloadTooLarge
from shipyard.server.deps import Ctx, Svc, json_response
from shipyard.server.schemas import MetricBatchIn, MetricBatchOut, MetricHistoryOut
from shipyard.services.ports import MetricBatch, MetricSeries

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/runs", tags=["metrics"])

_BATCH_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/MetricBatchIn"}}},
    }
}


def _to_batch(body: MetricBatchIn, limit: int) -> MetricBatch:
    grouped: dict[str, MetricSeries] = {}
    total = 0
    for series in body.metrics:
        n = len(series.values)
        if not (len(series.steps) == len(series.timestamps) == n):
            raise InvalidArgument(
                f"metric {series.key!r}: steps, values and timestamps must have the same length"
                f" (got {len(series.steps)}, {n}, {len(series.timestamps)})"
            )
        total += n
        if total > limit:
            raise PayloadTooLarge(f"at most {limit} points per request; split the batch")
        values = list(map(float, series.values))  # "NaN"/"Infinity" → float, one C-level pass
        same = grouped.get(series.key)
        if same is None:
            grouped[series.key] = MetricSeries(series.key, series.steps, values, series.timestamps)
        else:  # a key listed twice: one series, so the store sees each key once
            same.steps.extend(series.steps)
            same.values.extend(values)
            same.timestamps.extend(series.timestamps)
    return MetricBatch(list(grouped.values()))


@router.post(
    "/{run_id}/metrics",
    response_model=MetricBatchOut,
    summary="Log metric points in bulk (idempotent with an Idempotency-Key header)",
    openapi_extra=_BATCH_SCHEMA,
)
async def log_metrics(
    run_id: str,
    request: Request,
    ctx: Ctx,
    svc: Svc,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Response:
    raw = await request.body()
    try:
        body = MetricBatchIn.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidArgument(f"invalid metric batch at {where}: {first['msg']}") from None
    batch = _to_batch(body, request.app.state.settings.max_metric_batch)
    stored = await run_in_threadpool(svc.tracking.log_metrics, ctx, run_id, batch, idempotency_key)
    return json_response(MetricBatchOut(accepted=len(batch) if stored else 0, duplicate=not stored))


def _finite_or_name(value: float) -> float | str:
    if value - value == 0:
        return value
    return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")


@router.get(
    "/{run_id}/metrics/history",
    response_model=MetricHistoryOut,
    summary="Metric history, paged; max_points down-samples for charts",
)
def history(
    run_id: str,
    ctx: Ctx,
    svc: Svc,
    key: str = Query(..., description="The metric key."),
    max_results: int = Query(100_000, ge=1, le=1_000_000),
    page_token: str | None = None,
    max_points: int | None = Query(None, ge=2, description="Down-sample to at most this many points."),
) -> Response:
    found = svc.tracking.metric_history(
        ctx, run_id, key, max_results=max_results, page_token=page_token, max_points=max_points
    )
    values = found.values
    if not all(map(math.isfinite, values)):
        values = [_finite_or_name(v) for v in values]  # type: ignore[misc]
    payload = {
        "key": found.key,
        "steps": found.steps,
        "values": values,
        "timestamps": found.timestamps,
        "total": found.total,
        "downsampled": found.downsampled,
        "next_page_token": found.next_page_token,
    }
    return Response(orjson.dumps(payload), media_type="application/json")
