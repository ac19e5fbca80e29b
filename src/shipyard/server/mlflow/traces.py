"""MLflow tracing: ``/api/{2.0,3.0}/mlflow/traces*`` and the UI's ``get-trace-artifact``.

One router, served under both versions: the 3.17 client calls most trace routes under 3.0
and a few (tags, delete-traces, link-to-run, link-prompts) under 2.0, at the same paths.
Spans arrive over OTLP (``server/mlflow/otlp.py``); these routes read them back.

MLflow 2.x's trace messages are served too, in their v2 ``TraceInfo`` shape (``request_id``,
``timestamp_ms``, ``status``, key/value lists): ``StartTrace`` (``POST /2.0/…/traces``, where
3.0 takes 3.x's ``StartTraceV3``: the message's ``trace`` field tells them apart), ``EndTrace``
(``PATCH traces/{id}``), ``GetTraceInfo`` (``GET traces/{id}/info``) and v2 ``SearchTraces``
(``GET traces``). A 3.17 client calls them only against a server without the 3.x routes.

Trace metrics (``traces/metrics``) have a router of their own: ``server/mlflow/trace_metrics.py``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Request, Response
from pydantic import Field

from shipyard.domain.context import RequestContext
from shipyard.domain.traces import TraceInfo
from shipyard.errors import InvalidArgument
from shipyard.server.deps import Ctx, Services, Svc
from shipyard.server.mlflow import trace_json as tj
from shipyard.server.mlflow._route import MlflowIn, MlflowRoute, finite, missing_value, ok, payload
from shipyard.server.mlflow.artifacts import attachment
from shipyard.server.mlflow.experiments import resolve_experiment_id
from shipyard.services.trace_assessments import AssessmentService, AssessmentUpdate
from shipyard.services.traces import TraceService

__all__ = ["ajax_router", "router"]

router = APIRouter(route_class=MlflowRoute)
ajax_router = APIRouter(route_class=MlflowRoute)

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def _traces(svc: Services) -> TraceService:
    return svc.get("traces", TraceService)


def _assessments(svc: Services) -> AssessmentService:
    return svc.get("trace_assessments", AssessmentService)


def _experiment(ctx: RequestContext, svc: Services, experiment_id: str) -> str:
    return resolve_experiment_id(ctx, svc.tracking, experiment_id)


class _Pair(MlflowIn):
    key: str
    value: str = ""


class StartIn(MlflowIn):
    """``StartTraceV3`` (``trace``) or, under 2.0, MLflow 2.x's ``StartTrace``."""

    trace: dict[str, Any] | None = None
    experiment_id: str | None = None
    timestamp_ms: int | None = None
    request_metadata: list[_Pair] = Field(default_factory=list)
    tags: list[_Pair] = Field(default_factory=list)


class EndIn(MlflowIn):
    timestamp_ms: int | None = None
    status: str | int = "TRACE_STATUS_UNSPECIFIED"
    request_metadata: list[_Pair] = Field(default_factory=list)
    tags: list[_Pair] = Field(default_factory=list)


class SearchV2In(MlflowIn):
    experiment_ids: list[str] = Field(default_factory=list)
    filter: str | None = None
    max_results: int = 100
    order_by: list[str] = Field(default_factory=list)
    page_token: str | None = None


class _PromptRef(MlflowIn):
    name: str
    version: str | int


class LinkPromptsIn(MlflowIn):
    trace_id: str
    prompt_versions: list[_PromptRef]


class _Location(MlflowIn):
    mlflow_experiment: dict[str, Any] | None = None


class SearchIn(MlflowIn):
    locations: list[_Location] = Field(default_factory=list)
    experiment_ids: list[str] = Field(default_factory=list)
    filter: str | None = None
    max_results: int = 100
    order_by: list[str] = Field(default_factory=list)
    page_token: str | None = None


class GetIn(MlflowIn):
    trace_id: str
    allow_partial: bool = False


class BatchIn(MlflowIn):
    trace_ids: list[str]


class DeleteIn(MlflowIn):
    experiment_id: str
    max_timestamp_millis: int | None = None
    max_traces: int | None = None
    request_ids: list[str] = Field(default_factory=list)


class TagIn(MlflowIn):
    key: str
    value: str = ""


class KeyIn(MlflowIn):
    key: str


class LinkIn(MlflowIn):
    trace_ids: list[str]
    run_id: str


class AssessmentIn(MlflowIn):
    assessment: dict[str, Any]


class UpdateIn(MlflowIn):
    assessment: dict[str, Any]
    update_mask: str | dict[str, Any] | list[str] = ""


class ArtifactIn(MlflowIn):
    request_id: str
    path: str | None = None  # an attachment's id (a UUID); without it, the trace's spans


# -- traces ------------------------------------------------------------------------------


# MLflow 2.x's TraceStatus ↔ our (3.x) trace states.
_STATUS_OUT = {"STATE_UNSPECIFIED": "TRACE_STATUS_UNSPECIFIED"}
_STATUS_IN = {
    "TRACE_STATUS_UNSPECIFIED": "STATE_UNSPECIFIED",
    0: "STATE_UNSPECIFIED",
    1: "OK",
    2: "ERROR",
    3: "IN_PROGRESS",
}


def _v2_info(info: TraceInfo) -> dict[str, Any]:
    """MLflow 2.x's ``TraceInfo``: ``TraceInfoV2.from_v3`` of what the 3.x routes answer."""
    out: dict[str, Any] = {
        "request_id": info.trace_id,
        "experiment_id": info.experiment_id,
        "timestamp_ms": info.request_time,
        "status": _STATUS_OUT.get(info.state, info.state),
        "request_metadata": [{"key": k, "value": v} for k, v in info.metadata.items()],
        "tags": [{"key": k, "value": v} for k, v in tj.trace_info_out(info)["tags"].items()],
    }
    if info.execution_duration is not None:
        out["execution_time_ms"] = info.execution_duration
    return out


def _pairs(items: list[_Pair]) -> dict[str, str]:
    return {item.key: item.value for item in items}


@router.post("/traces")
def start_trace(request: Request, ctx: Ctx, svc: Svc, body: Annotated[StartIn, payload(StartIn)]) -> Response:
    if body.trace is None and request.url.path.endswith("/2.0/mlflow/traces"):
        if body.experiment_id is None:
            raise missing_value("experiment_id")
        if body.timestamp_ms is None:
            raise missing_value("timestamp_ms")
        started = _traces(svc).start_trace_v2(
            ctx,
            _experiment(ctx, svc, body.experiment_id),
            body.timestamp_ms,
            _pairs(body.request_metadata),
            _pairs(body.tags),
        )
        return ok({"trace_info": _v2_info(started)})
    if body.trace is None:
        raise missing_value("trace")
    info = tj.trace_info_in(body.trace.get("trace_info"))
    info.experiment_id = _experiment(ctx, svc, info.experiment_id)
    return ok({"trace": {"trace_info": tj.trace_info_out(_traces(svc).start_trace(ctx, info))}})


@router.get("/traces")
def search_v2(ctx: Ctx, svc: Svc, body: Annotated[SearchV2In, payload(SearchV2In)]) -> Response:
    """MLflow 2.x's ``SearchTraces`` (3.x clients search with ``POST traces/search``)."""
    infos, token = _traces(svc).search(
        ctx,
        [_experiment(ctx, svc, e) for e in body.experiment_ids],
        filter_string=body.filter,
        order_by=body.order_by,
        max_results=body.max_results,
        page_token=body.page_token,
    )
    out: dict[str, Any] = {"traces": [_v2_info(i) for i in infos]}
    if token:
        out["next_page_token"] = token
    return ok(out)


@router.post("/traces/link-prompts")
def link_prompts(ctx: Ctx, svc: Svc, body: Annotated[LinkPromptsIn, payload(LinkPromptsIn)]) -> Response:
    if not body.prompt_versions:
        raise missing_value("prompt_versions")
    versions = [(p.name, str(p.version)) for p in body.prompt_versions]
    _traces(svc).link_prompts(ctx, body.trace_id, versions)
    return ok()


@router.get("/traces/get")
def get_trace(ctx: Ctx, svc: Svc, body: Annotated[GetIn, payload(GetIn)]) -> Response:
    info, spans = _traces(svc).get_trace(ctx, body.trace_id)
    return ok({"trace": {"trace_info": tj.trace_info_out(info), "spans": [tj.span_out(s) for s in spans]}})


@router.get("/traces/batchGet")
def batch_get(ctx: Ctx, svc: Svc, body: Annotated[BatchIn, payload(BatchIn)]) -> Response:
    found = _traces(svc).get_traces(ctx, body.trace_ids)
    return ok(
        {
            "traces": [
                {"trace_info": tj.trace_info_out(info), "spans": [tj.span_out(s) for s in spans]}
                for info, spans in found
            ]
        }
    )


@router.post("/traces/batchGetInfos")
def batch_get_infos(ctx: Ctx, svc: Svc, body: Annotated[BatchIn, payload(BatchIn)]) -> Response:
    return ok({"trace_infos": [tj.trace_info_out(i) for i in _traces(svc).get_infos(ctx, body.trace_ids)]})


@router.post("/traces/search")
def search(ctx: Ctx, svc: Svc, body: Annotated[SearchIn, payload(SearchIn)]) -> Response:
    ids = list(body.experiment_ids)
    for location in body.locations:
        if location.mlflow_experiment is None or not isinstance(
            location.mlflow_experiment.get("experiment_id"), str
        ):
            raise InvalidArgument(
                "this server searches traces in MLflow experiments only (MLFLOW_EXPERIMENT locations)"
            )
        ids.append(location.mlflow_experiment["experiment_id"])
    infos, token = _traces(svc).search(
        ctx,
        [_experiment(ctx, svc, e) for e in ids],
        filter_string=body.filter,
        order_by=body.order_by,
        max_results=body.max_results,
        page_token=body.page_token,
    )
    out: dict[str, Any] = {"traces": [tj.trace_info_out(i) for i in infos]}
    if token:
        out["next_page_token"] = token
    return ok(out)


@router.post("/traces/delete-traces")
def delete_traces(ctx: Ctx, svc: Svc, body: Annotated[DeleteIn, payload(DeleteIn)]) -> Response:
    deleted = _traces(svc).delete(
        ctx,
        _experiment(ctx, svc, body.experiment_id),
        max_timestamp_millis=body.max_timestamp_millis,
        max_traces=body.max_traces,
        trace_ids=body.request_ids,
    )
    return ok({"traces_deleted": deleted})


@router.post("/traces/link-to-run")
def link_to_run(ctx: Ctx, svc: Svc, body: Annotated[LinkIn, payload(LinkIn)]) -> Response:
    _traces(svc).link_to_run(ctx, body.trace_ids, body.run_id)
    return ok()


class CorrelationIn(MlflowIn):
    experiment_ids: list[str]
    filter_string1: str
    filter_string2: str
    base_filter: str | None = None


@router.post("/traces/calculate-filter-correlation")
def filter_correlation(
    ctx: Ctx, svc: Svc, body: Annotated[CorrelationIn, payload(CorrelationIn)]
) -> Response:
    found = _traces(svc).correlation(
        ctx,
        [_experiment(ctx, svc, e) for e in body.experiment_ids],
        body.filter_string1,
        body.filter_string2,
        body.base_filter,
    )
    return ok(
        {
            "npmi": finite(found.npmi),
            "npmi_smoothed": finite(found.npmi_smoothed),
            "filter1_count": found.filter1_count,
            "filter2_count": found.filter2_count,
            "joint_count": found.joint_count,
            "total_count": found.total_count,
        }
    )


@router.get("/traces/{trace_id}")
def get_info(trace_id: str, ctx: Ctx, svc: Svc) -> Response:
    return ok({"trace": {"trace_info": tj.trace_info_out(_traces(svc).get_info(ctx, trace_id))}})


@router.get("/traces/{trace_id}/info")
def get_info_v2(trace_id: str, ctx: Ctx, svc: Svc) -> Response:
    """MLflow 2.x's ``GetTraceInfo``."""
    return ok({"trace_info": _v2_info(_traces(svc).get_info(ctx, trace_id))})


@router.patch("/traces/{trace_id}")
def end_trace_v2(trace_id: str, ctx: Ctx, svc: Svc, body: Annotated[EndIn, payload(EndIn)]) -> Response:
    """MLflow 2.x's ``EndTrace``: the trace's end time, status, and more tags and metadata."""
    if body.timestamp_ms is None:
        raise missing_value("timestamp_ms")
    state = _STATUS_IN.get(body.status, body.status)
    ended = _traces(svc).end_trace_v2(
        ctx, trace_id, body.timestamp_ms, str(state), _pairs(body.request_metadata), _pairs(body.tags)
    )
    return ok({"trace_info": _v2_info(ended)})


@router.patch("/traces/{trace_id}/tags")
def set_tag(trace_id: str, ctx: Ctx, svc: Svc, body: Annotated[TagIn, payload(TagIn)]) -> Response:
    _traces(svc).set_tag(ctx, trace_id, body.key, body.value)
    return ok()


@router.delete("/traces/{trace_id}/tags")
def delete_tag(trace_id: str, ctx: Ctx, svc: Svc, body: Annotated[KeyIn, payload(KeyIn)]) -> Response:
    _traces(svc).delete_tag(ctx, trace_id, body.key)
    return ok()


# -- assessments -------------------------------------------------------------------------


@router.post("/traces/{trace_id}/assessments")
def create_assessment(
    trace_id: str, ctx: Ctx, svc: Svc, body: Annotated[AssessmentIn, payload(AssessmentIn)]
) -> Response:
    made = _assessments(svc).create(ctx, tj.assessment_in(body.assessment, trace_id))
    return ok({"assessment": tj.assessment_out(made)})


@router.get("/traces/{trace_id}/assessments/{assessment_id}")
def get_assessment(trace_id: str, assessment_id: str, ctx: Ctx, svc: Svc) -> Response:
    return ok({"assessment": tj.assessment_out(_assessments(svc).get(ctx, trace_id, assessment_id))})


def _mask(value: str | dict[str, Any] | list[str]) -> set[str]:
    """protobuf's FieldMask: ``"assessmentName,feedback"`` in JSON (or ``{"paths": [...]}``)."""
    if isinstance(value, dict):
        value = value.get("paths") or []
    paths = value.split(",") if isinstance(value, str) else value
    return {_CAMEL.sub("_", p.strip()).lower() for p in paths if p.strip()}


@router.patch("/traces/{trace_id}/assessments/{assessment_id}")
def update_assessment(
    trace_id: str, assessment_id: str, ctx: Ctx, svc: Svc, body: Annotated[UpdateIn, payload(UpdateIn)]
) -> Response:
    mask, data = _mask(body.update_mask), body.assessment
    unknown = mask - {"assessment_name", "feedback", "expectation", "rationale", "metadata"}
    if unknown:
        raise InvalidArgument(f"cannot update assessment fields {', '.join(sorted(unknown))}")
    kind = "feedback" if "feedback" in mask else "expectation" if "expectation" in mask else None
    value = data.get(kind) if kind else None
    if kind is not None and not isinstance(value, dict):
        raise InvalidArgument(f"update_mask names {kind} but the assessment has none")
    metadata = data.get("metadata") if "metadata" in mask else None
    if metadata is not None and not (
        isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())
    ):
        raise InvalidArgument("assessment metadata must be an object of strings")
    change = AssessmentUpdate(
        name=data.get("assessment_name") if "assessment_name" in mask else None,
        kind=kind,
        value=value,
        rationale=data.get("rationale") if "rationale" in mask else None,
        metadata=metadata,
    )
    updated = _assessments(svc).update(ctx, trace_id, assessment_id, change)
    return ok({"assessment": tj.assessment_out(updated)})


@router.delete("/traces/{trace_id}/assessments/{assessment_id}")
def delete_assessment(trace_id: str, assessment_id: str, ctx: Ctx, svc: Svc) -> Response:
    _assessments(svc).delete(ctx, trace_id, assessment_id)
    return ok()


# -- the web UI --------------------------------------------------------------------------


@ajax_router.get("/get-trace-artifact")
def get_trace_artifact(ctx: Ctx, svc: Svc, body: Annotated[ArtifactIn, payload(ArtifactIn)]) -> Response:
    """The trace's spans as MLflow's ``traces.json`` holds them (``TraceData.to_dict``), or
    with ``path``, one of its attachments (the bytes an ``mlflow.Attachment`` held)."""
    if body.path:
        handle = svc.proxied_artifacts.open_trace_attachment(ctx, body.request_id, body.path)
        return attachment(handle, body.path)
    _, spans = _traces(svc).get_trace(ctx, body.request_id)
    return Response(orjson.dumps({"spans": [tj.span_dict(s) for s in spans]}), media_type="application/json")
