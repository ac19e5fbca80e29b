"""Routes MLflow's web UI calls beside the REST API, under ``<root>/2.0/mlflow``.

``ajax_router`` is served under ``/ajax-api`` only, as MLflow's server does:
- ``GET metrics/get-history-bulk``: one metric's history for several runs (``run_id``
  repeated, ``metric_key``, ``max_results`` of at most 25,000 points in all);
- ``POST upload-artifact?run_uuid=&path=``: the body is the file (the UI saves evaluation
  tables this way), at most 10 MB as on MLflow's server, written through the same artifact
  service and path checks as every other upload.

``router`` is served under ``/api`` and ``/ajax-api``:
- ``POST experiments/search-datasets``: the datasets the runs of up to 20 experiments logged,
  with their context.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import Field

from shipyard.server.deps import Ctx, Svc
from shipyard.server.mlflow._route import MlflowApiError, MlflowIn, MlflowRoute, finite, ok, payload
from shipyard.server.mlflow.artifacts import safe_path
from shipyard.server.mlflow.experiments import resolve_experiment_id
from shipyard.services.dataset_summaries import DatasetSummary, DatasetSummaryService

__all__ = [
    "MAX_BULK_HISTORY",
    "MAX_BULK_RUNS",
    "MAX_UI_UPLOAD",
    "ajax_router",
    "dataset_summary",
    "router",
]

ajax_router = APIRouter(route_class=MlflowRoute)
router = APIRouter(route_class=MlflowRoute)

# MLflow's limits for these routes.
MAX_BULK_HISTORY = 25_000
MAX_BULK_RUNS = 100
MAX_UI_UPLOAD = 10 * 1024 * 1024
_TOO_LARGE = "Artifact size is too large. Max size is 10MB."


def _invalid(message: str) -> MlflowApiError:
    return MlflowApiError("INVALID_PARAMETER_VALUE", message)


@ajax_router.get("/metrics/get-history-bulk")
def get_history_bulk(request: Request, ctx: Ctx, svc: Svc) -> Response:
    query = request.query_params
    run_ids = query.getlist("run_id")
    if not run_ids:
        raise _invalid("GetMetricHistoryBulk request must specify at least one run_id.")
    if len(run_ids) > MAX_BULK_RUNS:
        raise _invalid(
            f"GetMetricHistoryBulk request cannot specify more than {MAX_BULK_RUNS} run_ids."
            f" Received {len(run_ids)} run_ids."
        )
    metric_key = query.get("metric_key")
    if metric_key is None:
        raise _invalid("GetMetricHistoryBulk request must specify a metric_key.")
    raw = query.get("max_results", str(MAX_BULK_HISTORY))
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise _invalid(f"Invalid value {raw[:40]!r} for parameter 'max_results': give a positive integer.")
    max_results = min(int(raw), MAX_BULK_HISTORY)
    metrics: list[dict[str, object]] = []
    for run_id in sorted(set(run_ids)):
        found = svc.tracking.metric_history(ctx, run_id, metric_key, max_results=max_results)
        points = sorted(zip(found.timestamps, found.steps, found.values, strict=True))
        metrics.extend(
            {"key": metric_key, "value": finite(v), "timestamp": ts, "step": step, "run_id": run_id}
            for ts, step, v in points
        )
        if len(metrics) >= max_results:
            break
    return ok({"metrics": metrics[:max_results]})


async def _body(request: Request) -> AsyncIterator[bytes]:
    """The request body, refused past MLflow's 10 MB or when empty (before anything is stored:
    the artifact service publishes a file only once its body ended well)."""
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_UI_UPLOAD:
            raise _invalid(_TOO_LARGE)
        yield chunk
    if size == 0:
        raise _invalid("Request must specify data.")


@ajax_router.post("/upload-artifact")
async def upload_artifact(request: Request, ctx: Ctx, svc: Svc) -> Response:
    run_uuid = request.query_params.get("run_uuid")
    if not run_uuid:
        raise _invalid("Request must specify run_uuid.")
    path = request.query_params.get("path")
    if not path:
        raise _invalid("Request must specify path.")
    clean = safe_path(path)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_UI_UPLOAD:
        raise _invalid(_TOO_LARGE)
    await svc.artifacts.upload(ctx, run_uuid, clean, _body(request))
    return ok()


class SearchDatasetsIn(MlflowIn):
    experiment_ids: list[str] = Field(default_factory=list)


def dataset_summary(found: DatasetSummary) -> dict[str, str]:
    out = {"experiment_id": found.experiment_id, "name": found.name, "digest": found.digest}
    if found.context is not None:
        out["context"] = found.context
    return out


@router.post("/experiments/search-datasets")
def search_datasets(
    ctx: Ctx, svc: Svc, body: Annotated[SearchDatasetsIn, payload(SearchDatasetsIn)]
) -> Response:
    experiment_ids = [resolve_experiment_id(ctx, svc.tracking, e) for e in body.experiment_ids]
    found = svc.get("dataset_summaries", DatasetSummaryService).search(ctx, experiment_ids)
    return ok({"dataset_summaries": [dataset_summary(s) for s in found]} if found else {})
