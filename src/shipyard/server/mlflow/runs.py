"""MLflow runs: ``/api/2.0/mlflow/runs/*`` — lifecycle, params, tags, metrics, inputs, search."""

from __future__ import annotations

from typing import Annotated, NotRequired

from fastapi import APIRouter, Response
from pydantic import Field, model_validator
from typing_extensions import TypedDict  # pydantic needs it before Python 3.12

from shipyard.domain.context import RequestContext
from shipyard.domain.logged_models import LoggedModelMetric
from shipyard.domain.tracking import Dataset, DatasetInput, ModelOutput, Run
from shipyard.errors import InvalidArgument
from shipyard.server.deps import Ctx, Services, Svc
from shipyard.server.mlflow import _convert as convert
from shipyard.server.mlflow._route import MlflowIn, MlflowRoute, missing_value, ok, payload
from shipyard.server.mlflow.experiments import resolve_experiment_id, view_of
from shipyard.services.ports import MetricBatch

__all__ = [
    "MAX_ENTITIES_PER_BATCH",
    "MAX_METRICS_PER_BATCH",
    "MAX_PARAMS_TAGS_PER_BATCH",
    "RunIdIn",
    "router",
]

router = APIRouter(route_class=MlflowRoute)

# MLflow's log-batch limits, so a batch accepted here is one MLflow would accept too.
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
_STATUSES = {"1": "RUNNING", "2": "SCHEDULED", "3": "FINISHED", "4": "FAILED", "5": "KILLED"}


class _KeyValue(MlflowIn):
    key: str
    value: str


class RunIdIn(MlflowIn):
    """Requests name the run as ``run_id`` or, in older clients, ``run_uuid``."""

    run_id: str | None = None
    run_uuid: str | None = None

    @model_validator(mode="after")
    def _one_id(self) -> RunIdIn:
        if not (self.run_id or self.run_uuid):
            raise missing_value("run_id")  # not a ValueError: pydantic lets it through as it is
        return self

    @property
    def id(self) -> str:
        return self.run_id or self.run_uuid or ""


class CreateIn(MlflowIn):
    experiment_id: str | None = None
    user_id: str | None = None
    run_name: str | None = None
    start_time: int | None = None
    tags: list[_KeyValue] = Field(default_factory=list)


class UpdateIn(RunIdIn):
    status: str | int | None = None
    end_time: int | None = None
    run_name: str | None = None


class SearchIn(MlflowIn):
    experiment_ids: list[str] = Field(default_factory=list)
    filter: str | None = None
    run_view_type: str | int | None = None
    max_results: int = 1000
    order_by: list[str] = Field(default_factory=list)
    page_token: str | None = None


class MetricIn(MlflowIn):
    key: str
    value: float
    timestamp: int
    step: int = 0
    # MLflow 3 may tie a metric to a logged model and a dataset: kept on the run, and linked
    # to the model as well.
    model_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None


class LogMetricIn(RunIdIn, MetricIn):
    pass


class MetricPoint(TypedDict):
    """A log-batch metric. A TypedDict, not a model: validating 1,000 points into dicts costs
    a fifth of building 1,000 model instances, on the hottest MLflow endpoint."""

    key: str
    value: float
    timestamp: int
    step: NotRequired[int]
    model_id: NotRequired[str | None]
    dataset_name: NotRequired[str | None]
    dataset_digest: NotRequired[str | None]


class LogBatchIn(RunIdIn):
    metrics: list[MetricPoint] = Field(default_factory=list)
    params: list[_KeyValue] = Field(default_factory=list)
    tags: list[_KeyValue] = Field(default_factory=list)


class LogParamIn(RunIdIn):
    key: str
    value: str


class SetTagIn(RunIdIn):
    key: str
    value: str


class DeleteTagIn(RunIdIn):
    key: str


class _DatasetIn(MlflowIn):
    name: str
    digest: str
    source_type: str
    source: str
    schema_: str | None = None
    profile: str | None = None

    model_config = MlflowIn.model_config | {"populate_by_name": True}

    @model_validator(mode="before")
    @classmethod
    def _schema(cls, data: object) -> object:
        if isinstance(data, dict) and "schema" in data:
            data = {**data, "schema_": data["schema"]}
        return data


class _DatasetInputIn(MlflowIn):
    tags: list[_KeyValue] = Field(default_factory=list)
    dataset: _DatasetIn


class _ModelRefIn(MlflowIn):
    model_id: str


class LogInputsIn(RunIdIn):
    datasets: list[_DatasetInputIn] = Field(default_factory=list)
    models: list[_ModelRefIn] = Field(default_factory=list)


class _ModelOutputIn(MlflowIn):
    model_id: str
    step: int = 0


class LogOutputsIn(RunIdIn):
    models: list[_ModelOutputIn] = Field(default_factory=list)


def _run(svc: Services, ctx: RequestContext, found: Run) -> dict[str, object]:
    return convert.run(found, svc.tracking.run_io(ctx, [found.id])[found.id])


@router.post("/runs/create")
def create(ctx: Ctx, svc: Svc, body: Annotated[CreateIn, payload(CreateIn)]) -> Response:
    tags = {t.key: t.value for t in body.tags}
    name = body.run_name or tags.get(convert.RUN_NAME_TAG) or None
    parent = tags.pop(convert.PARENT_TAG, None)
    tags.pop(convert.RUN_NAME_TAG, None)  # the run's name column is the tag's one home
    if body.user_id and body.user_id != convert.UNKNOWN_USER and convert.USER_TAG not in tags:
        # MLflow keeps user_id in a (deprecated) column of its own; the tag is where ours lives.
        tags[convert.USER_TAG] = body.user_id
    experiment_id = resolve_experiment_id(ctx, svc.tracking, body.experiment_id or "0")
    found = svc.tracking.create_run(
        ctx,
        experiment_id,
        name=name,
        start_time=body.start_time,
        tags=tags,
        parent_run_id=parent,
        keep_unknown_parent=True,  # MLflow stores any parent id: the parent may live elsewhere
    )
    return ok({"run": _run(svc, ctx, found)})


@router.get("/runs/get")
def get(ctx: Ctx, svc: Svc, body: Annotated[RunIdIn, payload(RunIdIn)]) -> Response:
    return ok({"run": convert.run(*svc.tracking.get_run_with_io(ctx, body.id))})


@router.post("/runs/update")
def update(ctx: Ctx, svc: Svc, body: Annotated[UpdateIn, payload(UpdateIn)]) -> Response:
    status = None if body.status is None else _STATUSES.get(str(body.status), str(body.status))
    found = svc.tracking.update_run(
        ctx, body.id, status=status, end_time=body.end_time, name=body.run_name or None
    )
    return ok({"run_info": convert.run_info(found)})


@router.post("/runs/delete")
def delete(ctx: Ctx, svc: Svc, body: Annotated[RunIdIn, payload(RunIdIn)]) -> Response:
    svc.tracking.set_run_lifecycle(ctx, body.id, "deleted")
    return ok()


@router.post("/runs/restore")
def restore(ctx: Ctx, svc: Svc, body: Annotated[RunIdIn, payload(RunIdIn)]) -> Response:
    svc.tracking.set_run_lifecycle(ctx, body.id, "active")
    return ok()


@router.post("/runs/search")
def search(ctx: Ctx, svc: Svc, body: Annotated[SearchIn, payload(SearchIn)]) -> Response:
    if not body.experiment_ids:
        return ok()  # MLflow answers a search of no experiments with no runs
    experiment_ids = [resolve_experiment_id(ctx, svc.tracking, e) for e in body.experiment_ids]
    found, token = svc.tracking.search_runs(
        ctx,
        experiment_ids,
        filter_string=body.filter,
        order_by=body.order_by,
        view=view_of(body.run_view_type),
        max_results=body.max_results,
        page_token=body.page_token,
    )
    io = svc.tracking.run_io(ctx, [r.id for r in found])
    out: dict[str, object] = {"runs": [convert.run(r, io[r.id]) for r in found]}
    if token:
        out["next_page_token"] = token
    return ok(out)


def _points(body: LogMetricIn) -> list[MetricPoint]:
    point: MetricPoint = {
        "key": body.key,
        "value": body.value,
        "timestamp": body.timestamp,
        "step": body.step,
    }
    if body.model_id:
        point |= {
            "model_id": body.model_id,
            "dataset_name": body.dataset_name,
            "dataset_digest": body.dataset_digest,
        }
    return [point]


def _batch(metrics: list[MetricPoint]) -> MetricBatch:
    return MetricBatch.from_points(
        [m["key"] for m in metrics],
        [m.get("step", 0) for m in metrics],
        [m["value"] for m in metrics],
        [m["timestamp"] for m in metrics],
    )


def _model_metrics(run_id: str, metrics: list[MetricPoint]) -> list[LoggedModelMetric]:
    """The points that name a logged model."""
    return [
        LoggedModelMetric(
            model_id,
            m["key"],
            m["value"],
            m["timestamp"],
            m.get("step", 0),
            run_id,
            m.get("dataset_name") or None,
            m.get("dataset_digest") or None,
        )
        for m in metrics
        if (model_id := m.get("model_id"))
    ]


@router.post("/runs/log-metric")
def log_metric(ctx: Ctx, svc: Svc, body: Annotated[LogMetricIn, payload(LogMetricIn)]) -> Response:
    points = _points(body)
    svc.tracking.log_metrics(ctx, body.id, _batch(points), model_metrics=_model_metrics(body.id, points))
    return ok()


@router.post("/runs/log-batch")
def log_batch(ctx: Ctx, svc: Svc, body: Annotated[LogBatchIn, payload(LogBatchIn)]) -> Response:
    total = len(body.metrics) + len(body.params) + len(body.tags)
    for what, length, limit in (  # MLflow's checks, in its order and words
        ("metrics", len(body.metrics), MAX_METRICS_PER_BATCH),
        ("params", len(body.params), MAX_PARAMS_TAGS_PER_BATCH),
        ("tags", len(body.tags), MAX_PARAMS_TAGS_PER_BATCH),
        ("metrics, params, and tags", total, MAX_ENTITIES_PER_BATCH),
    ):
        if length > limit:
            raise InvalidArgument(
                f"A batch logging request can contain at most {limit} {what}. Got {length} {what}."
                f" Please split up {what} across multiple requests and try again."
            )
    params: dict[str, str] = {}
    for p in body.params:
        if params.setdefault(p.key, p.value) != p.value:
            raise InvalidArgument(f"param {p.key!r} appears twice in the batch with different values")
    tags = {t.key: t.value for t in body.tags}
    name = tags.pop(convert.RUN_NAME_TAG, None)  # the tag renames the run, as on MLflow's server
    svc.tracking.log_batch(
        ctx,
        body.id,
        metrics=_batch(body.metrics),
        params=params,
        tags=tags,
        name=name,
        model_metrics=_model_metrics(body.id, body.metrics),
    )
    return ok()


@router.post("/runs/log-parameter")
def log_param(ctx: Ctx, svc: Svc, body: Annotated[LogParamIn, payload(LogParamIn)]) -> Response:
    svc.tracking.log_params(ctx, body.id, {body.key: body.value})
    return ok()


@router.post("/runs/set-tag")
def set_tag(ctx: Ctx, svc: Svc, body: Annotated[SetTagIn, payload(SetTagIn)]) -> Response:
    if body.key == convert.RUN_NAME_TAG:  # the tag renames the run, as on MLflow's server
        svc.tracking.update_run(ctx, body.id, name=body.value)
    else:
        svc.tracking.set_tags(ctx, body.id, {body.key: body.value})
    return ok()


@router.post("/runs/delete-tag")
def delete_tag(ctx: Ctx, svc: Svc, body: Annotated[DeleteTagIn, payload(DeleteTagIn)]) -> Response:
    svc.tracking.delete_tag(ctx, body.id, body.key)
    return ok()


@router.post("/runs/log-inputs")
def log_inputs(ctx: Ctx, svc: Svc, body: Annotated[LogInputsIn, payload(LogInputsIn)]) -> Response:
    inputs = [
        DatasetInput(
            Dataset(
                d.dataset.name,
                d.dataset.digest,
                d.dataset.source_type,
                d.dataset.source,
                d.dataset.schema_,
                d.dataset.profile,
            ),
            {t.key: t.value for t in d.tags},
        )
        for d in body.datasets
    ]
    svc.tracking.log_inputs(ctx, body.id, inputs, [m.model_id for m in body.models])
    return ok()


@router.post("/runs/outputs")
def log_outputs(ctx: Ctx, svc: Svc, body: Annotated[LogOutputsIn, payload(LogOutputsIn)]) -> Response:
    svc.tracking.log_outputs(ctx, body.id, [ModelOutput(m.model_id, m.step) for m in body.models])
    return ok()
