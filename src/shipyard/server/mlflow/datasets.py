"""MLflow 3 evaluation datasets: ``/api/3.0/mlflow/datasets/*`` (``mlflow.genai.datasets``).

MLflow's messages carry tags and records as JSON *text* inside the JSON body (``"tags":
"{\\"k\\": \\"v\\"}"``); handlers decode and encode them here, so the service sees objects.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import Field

from shipyard.domain.context import RequestContext
from shipyard.domain.eval_datasets import DatasetRecord, EvalDataset
from shipyard.errors import InvalidArgument
from shipyard.server.deps import Ctx, Svc
from shipyard.server.mlflow._route import MlflowIn, MlflowRoute, ok, payload
from shipyard.server.mlflow.experiments import resolve_experiment_id
from shipyard.services.eval_datasets import EvalDatasetService

__all__ = ["dataset_json", "record_json", "router"]

router = APIRouter(route_class=MlflowRoute)


def _service(svc: Svc) -> EvalDatasetService:
    return svc.get("eval_datasets", EvalDatasetService)


def _json_text(field: str, text: str | None, kind: type) -> Any:
    """A JSON value sent as text inside the message (MLflow's ``tags``, ``records``)."""
    if text is None or text == "":
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(
            f"{field} must be JSON text ({kind.__name__}); it does not parse: {exc}"
        ) from None
    if not isinstance(value, kind):
        raise InvalidArgument(
            f"{field} must be JSON text holding a {kind.__name__}; got {type(value).__name__}"
        )
    return value


def dataset_json(dataset: EvalDataset) -> dict[str, Any]:
    out: dict[str, Any] = {
        "dataset_id": dataset.id,
        "name": dataset.name,
        "tags": json.dumps(dataset.tags),
        "digest": dataset.digest,
        "created_time": dataset.created_time,
        "last_update_time": dataset.last_update_time,
        "experiment_ids": list(dataset.experiment_ids),
    }
    for key in ("schema", "profile", "created_by", "last_updated_by"):
        value = getattr(dataset, key)
        if value is not None:
            out[key] = value
    return out


def record_json(record: DatasetRecord) -> dict[str, Any]:
    """The dict MLflow's ``DatasetRecord.to_dict`` makes (what ``from_dict`` reads back)."""
    out: dict[str, Any] = {
        "dataset_record_id": record.id,
        "dataset_id": record.dataset_id,
        "inputs": record.inputs,
        "tags": record.tags or {},
        "created_time": record.created_time,
        "last_update_time": record.last_update_time,
        "source_type": record.source_type or "UNSPECIFIED",
    }
    optional = {
        "outputs": record.outputs,
        "expectations": record.expectations,
        "source": record.source,
        "source_id": record.source_id,
        "created_by": record.created_by,
        "last_updated_by": record.last_updated_by,
    }
    out.update((k, v) for k, v in optional.items() if v is not None)
    return out


def _experiments(ctx: RequestContext, svc: Svc, ids: list[str]) -> list[str]:
    return [resolve_experiment_id(ctx, svc.tracking, str(e)) for e in ids]


class CreateIn(MlflowIn):
    name: str
    experiment_ids: list[str] = Field(default_factory=list)
    tags: str | None = None


class SearchIn(MlflowIn):
    experiment_ids: list[str] = Field(default_factory=list)
    filter_string: str | None = None
    max_results: int | None = None
    order_by: list[str] = Field(default_factory=list)
    page_token: str | None = None


class TagsIn(MlflowIn):
    tags: str


class RecordsIn(MlflowIn):
    records: str


class PageIn(MlflowIn):
    max_results: int | None = None
    page_token: str | None = None


class RecordIdsIn(MlflowIn):
    dataset_record_ids: list[str] = Field(default_factory=list)


class ExperimentsIn(MlflowIn):
    experiment_ids: list[str] = Field(default_factory=list)


@router.post("/datasets/create")
def create(ctx: Ctx, svc: Svc, body: Annotated[CreateIn, payload(CreateIn)]) -> Response:
    made = _service(svc).create(
        ctx,
        body.name,
        _json_text("tags", body.tags, dict),
        _experiments(ctx, svc, body.experiment_ids),
    )
    return ok({"dataset": dataset_json(made)})


@router.api_route("/datasets/search", methods=["GET", "POST"])
def search(ctx: Ctx, svc: Svc, body: Annotated[SearchIn, payload(SearchIn)]) -> Response:
    found, token = _service(svc).search(
        ctx,
        experiment_ids=_experiments(ctx, svc, body.experiment_ids),
        filter_string=body.filter_string,
        max_results=body.max_results,
        order_by=body.order_by,
        page_token=body.page_token,
    )
    out: dict[str, Any] = {"datasets": [dataset_json(d) for d in found]}
    if token:
        out["next_page_token"] = token
    return ok(out)


@router.get("/datasets/{dataset_id}")
def get(ctx: Ctx, svc: Svc, dataset_id: str) -> Response:
    return ok({"dataset": dataset_json(_service(svc).get(ctx, dataset_id))})


@router.delete("/datasets/{dataset_id}")
def delete(ctx: Ctx, svc: Svc, dataset_id: str) -> Response:
    _service(svc).delete(ctx, dataset_id)
    return ok()


@router.patch("/datasets/{dataset_id}/tags")
def set_tags(ctx: Ctx, svc: Svc, dataset_id: str, body: Annotated[TagsIn, payload(TagsIn)]) -> Response:
    _service(svc).set_tags(ctx, dataset_id, _json_text("tags", body.tags, dict) or {})
    return ok()


@router.delete("/datasets/{dataset_id}/tags/{key:path}")
def delete_tag(ctx: Ctx, svc: Svc, dataset_id: str, key: str) -> Response:
    _service(svc).delete_tag(ctx, dataset_id, key)
    return ok()


@router.post("/datasets/{dataset_id}/records")
def upsert_records(
    ctx: Ctx, svc: Svc, dataset_id: str, body: Annotated[RecordsIn, payload(RecordsIn)]
) -> Response:
    inserted, updated = _service(svc).upsert_records(
        ctx, dataset_id, _json_text("records", body.records, list)
    )
    return ok({"inserted_count": inserted, "updated_count": updated})


@router.get("/datasets/{dataset_id}/records")
def records(ctx: Ctx, svc: Svc, dataset_id: str, body: Annotated[PageIn, payload(PageIn)]) -> Response:
    found, token = _service(svc).records(ctx, dataset_id, body.max_results, body.page_token)
    out: dict[str, Any] = {"records": json.dumps([record_json(r) for r in found])}
    if token:
        out["next_page_token"] = token
    return ok(out)


@router.delete("/datasets/{dataset_id}/records")
def delete_records(
    ctx: Ctx, svc: Svc, dataset_id: str, body: Annotated[RecordIdsIn, payload(RecordIdsIn)]
) -> Response:
    return ok({"deleted_count": _service(svc).delete_records(ctx, dataset_id, body.dataset_record_ids)})


@router.get("/datasets/{dataset_id}/experiment-ids")
def experiment_ids(ctx: Ctx, svc: Svc, dataset_id: str) -> Response:
    return ok({"experiment_ids": _service(svc).experiment_ids(ctx, dataset_id)})


@router.post("/datasets/{dataset_id}/add-experiments")
def add_experiments(
    ctx: Ctx, svc: Svc, dataset_id: str, body: Annotated[ExperimentsIn, payload(ExperimentsIn)]
) -> Response:
    found = _service(svc).link(ctx, dataset_id, _experiments(ctx, svc, body.experiment_ids), add=True)
    return ok({"dataset": dataset_json(found)})


@router.post("/datasets/{dataset_id}/remove-experiments")
def remove_experiments(
    ctx: Ctx, svc: Svc, dataset_id: str, body: Annotated[ExperimentsIn, payload(ExperimentsIn)]
) -> Response:
    found = _service(svc).link(ctx, dataset_id, _experiments(ctx, svc, body.experiment_ids), add=False)
    return ok({"dataset": dataset_json(found)})
