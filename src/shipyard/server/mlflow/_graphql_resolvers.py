"""What each field of MLflow's GraphQL schema reads, over the same services as the REST routes.

Answers are the REST layer's own messages (``_convert``, ``registry.model_version``,
``artifacts.run_listing``…) with their keys in GraphQL's camelCase, so the two faces cannot
drift apart. Each root field needs the permission of its REST route (``experiments:read``,
``models:read`` for model versions, and so for a run's ``modelVersions``); without it the
field is an error and its data null, while the fields the caller may read still answer.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLResolveInfo

from shipyard.domain.context import RequestContext
from shipyard.domain.tracking import Experiment
from shipyard.errors import InvalidArgument, PermissionDenied
from shipyard.server.deps import Services
from shipyard.server.mlflow import _convert as convert
from shipyard.server.mlflow.artifacts import run_listing
from shipyard.server.mlflow.experiments import resolve_experiment_id, view_of
from shipyard.server.mlflow.registry import model_version
from shipyard.server.mlflow.ui import dataset_summary
from shipyard.services.dataset_summaries import DatasetSummaryService
from shipyard.services.tracking import MAX_INTERVAL_POINTS

__all__ = ["FLOAT_FIELDS", "MUTATION", "QUERY", "RUN_FIELDS", "Call"]

# Runs per GraphQL search: each may ask for its model versions (a query per run), so the
# page is capped at MLflow's default instead of the REST route's 50,000.
MAX_RUNS_PAGE = 1000
_READ_RUNS = "experiments:read"
_READ_MODELS = "models:read"


@dataclass
class Call:
    """One request's caller and services, with what its fields already read."""

    ctx: RequestContext
    svc: Services
    experiments: dict[str, Experiment] = field(default_factory=dict)


def _call(info: GraphQLResolveInfo[Any], permission: str) -> Call:
    call: Call = info.context
    if not call.ctx.may(permission):
        raise PermissionDenied(
            f"{call.ctx.principal.name!r} may not read {info.field_name}: it needs {permission} in"
            f" workspace {call.ctx.workspace!r}",
            permission=permission,
        )
    return call


def _camel(value: Any) -> Any:
    """A REST message with GraphQL's field names (``run_id`` → ``runId``)."""
    if isinstance(value, dict):
        return {_camel_key(k): _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def _camel_key(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _input(args: dict[str, Any]) -> dict[str, Any]:
    """The ``input`` argument every MLflow root field takes (absent: nothing given)."""
    given: dict[str, Any] | None = args.get("input")
    return given or {}


def _missing(name: str) -> InvalidArgument:
    """MLflow's answer to an input without a required field (named as MLflow's REST names it)."""
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
    return InvalidArgument(
        f"Missing value for required parameter '{snake}'. See the API docs for more information about"
        " request parameters."
    )


def _given(data: dict[str, Any], *names: str) -> str:
    """The first of ``names`` the input carries."""
    for name in names:
        value = data.get(name)
        if value:
            return str(value)
    raise _missing(names[0])


def _given_list(data: dict[str, Any], name: str) -> list[Any]:
    given: list[Any] = data.get(name) or []
    if not given:
        raise _missing(name)
    return given


def _experiment(call: Call, experiment_id: str) -> Experiment:
    found = call.experiments.get(experiment_id)
    if found is None:
        real = resolve_experiment_id(call.ctx, call.svc.tracking, experiment_id)
        found = call.experiments[experiment_id] = call.svc.tracking.get_experiment(call.ctx, real)
    return found


def _experiment_message(call: Call, found: Experiment) -> dict[str, Any]:
    return {**_camel(convert.experiment(found)), "workspace": found.workspace}


# -- root fields ----------------------------------------------------------------------


def get_experiment(_root: object, info: GraphQLResolveInfo[Any], **args: Any) -> Any:
    call = _call(info, _READ_RUNS)
    found = _experiment(call, _given(_input(args), "experimentId"))
    return {"experiment": _experiment_message(call, found)}


def get_run(_root: object, info: GraphQLResolveInfo[Any], **args: Any) -> Any:
    call = _call(info, _READ_RUNS)
    run_id = _given(_input(args), "runId", "runUuid")
    return {"run": _camel(convert.run(*call.svc.tracking.get_run_with_io(call.ctx, run_id)))}


def _page(size: int | None) -> int:
    if size is None:
        return MAX_RUNS_PAGE
    if not 1 <= size <= MAX_RUNS_PAGE:
        raise InvalidArgument(f"maxResults must be between 1 and {MAX_RUNS_PAGE}; page with pageToken")
    return size


def search_runs(_root: object, info: GraphQLResolveInfo[Any], **args: Any) -> Any:
    call = _call(info, _READ_RUNS)
    data = _input(args)
    given = [str(e) for e in data.get("experimentIds") or []]
    if not given:
        return {"runs": []}  # MLflow answers a search of no experiments with no runs
    experiment_ids = [resolve_experiment_id(call.ctx, call.svc.tracking, e) for e in given]
    found, token = call.svc.tracking.search_runs(
        call.ctx,
        experiment_ids,
        filter_string=data.get("filter"),
        order_by=[str(o) for o in data.get("orderBy") or []],
        view=view_of(data.get("runViewType")),
        max_results=_page(data.get("maxResults")),
        page_token=data.get("pageToken") or None,
    )
    io = call.svc.tracking.run_io(call.ctx, [r.id for r in found])
    return {"runs": [_camel(convert.run(r, io[r.id])) for r in found], "nextPageToken": token}


def _long(value: object, name: str) -> int | None:
    if value is None:
        return None
    text = str(value)
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise InvalidArgument(f"Invalid value {text[:40]!r} for parameter '{name}': give a whole number.")
    return int(text)


def search_model_versions(_root: object, info: GraphQLResolveInfo[Any], **args: Any) -> Any:
    call = _call(info, _READ_MODELS)
    data = _input(args)
    found, token = call.svc.registry.search_versions(
        call.ctx,
        data.get("filter"),
        [str(o) for o in data.get("orderBy") or []],
        _long(data.get("maxResults"), "max_results") or 10_000,
        data.get("pageToken") or None,
    )
    return {"modelVersions": [_model_version(v) for v in found], "nextPageToken": token}


def history_bulk_interval(_root: object, info: GraphQLResolveInfo[Any], **args: Any) -> Any:
    call = _call(info, _READ_RUNS)
    data = _input(args)
    run_ids = [str(r) for r in _given_list(data, "runIds")]
    key = _given(data, "metricKey")
    size = data.get("maxResults")
    found = call.svc.tracking.metric_intervals(  # MLflow's checks live there, as for the REST route
        call.ctx,
        run_ids,
        key,
        start_step=data.get("startStep"),
        end_step=data.get("endStep"),
        max_points=MAX_INTERVAL_POINTS if size is None else size,
    )
    metrics = [
        {"key": key, "value": v, "timestamp": ts, "step": step, "runId": run_id}
        for run_id, points in found
        for step, ts, v in points
    ]
    return {"metrics": metrics}


def list_artifacts(_root: object, info: GraphQLResolveInfo[Any], **args: Any) -> Any:
    call = _call(info, _READ_RUNS)
    data = _input(args)
    run_id = _given(data, "runId", "runUuid")
    return _camel(run_listing(call.ctx, call.svc, run_id, data.get("path")))


def search_datasets(_root: object, info: GraphQLResolveInfo[Any], **args: Any) -> Any:
    call = _call(info, _READ_RUNS)
    given = [str(e) for e in _input(args).get("experimentIds") or []]
    experiment_ids = [resolve_experiment_id(call.ctx, call.svc.tracking, e) for e in given]
    found = call.svc.get("dataset_summaries", DatasetSummaryService).search(call.ctx, experiment_ids)
    return {"datasetSummaries": [_camel(dataset_summary(s)) for s in found]}


def echo(_root: object, _info: GraphQLResolveInfo[Any], **args: Any) -> Any:
    return {"output": args.get("inputString")}


# -- fields of a run ------------------------------------------------------------------


def run_experiment(run: dict[str, Any], info: GraphQLResolveInfo[Any]) -> Any:
    call = _call(info, _READ_RUNS)
    return _experiment_message(call, _experiment(call, run["info"]["experimentId"]))


def run_model_versions(run: dict[str, Any], info: GraphQLResolveInfo[Any]) -> Any:
    call = _call(info, _READ_MODELS)
    run_id = run["info"]["runId"]
    found, _token = call.svc.registry.search_versions(call.ctx, f"run_id = '{run_id}'")
    return [_model_version(v) for v in found]


_VERSION_STATUSES = frozenset({"PENDING_REGISTRATION", "FAILED_REGISTRATION", "READY"})


def _model_version(found: Any) -> dict[str, Any]:
    out: dict[str, Any] = _camel(model_version(found))
    if out.get("status") not in _VERSION_STATUSES:
        out["status"] = None  # not one of MLflow's: the enum cannot carry it
    return out


def finite_or_null(parent: dict[str, Any], _info: GraphQLResolveInfo[Any]) -> float | None:
    """A metric's value; NaN and ±inf are null, as on MLflow (GraphQL's Float has neither)."""
    value = parent.get("value")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


Resolver = Callable[..., Any]
QUERY: dict[str, Resolver] = {
    "mlflowGetExperiment": get_experiment,
    "mlflowGetMetricHistoryBulkInterval": history_bulk_interval,
    "mlflowGetRun": get_run,
    "mlflowListArtifacts": list_artifacts,
    "mlflowSearchModelVersions": search_model_versions,
    "mlflowSearchRuns": search_runs,
    "test": echo,
}
MUTATION: dict[str, Resolver] = {
    "mlflowSearchDatasets": search_datasets,
    "mlflowSearchRuns": search_runs,
    "testMutation": echo,
}
RUN_FIELDS: dict[str, Resolver] = {"experiment": run_experiment, "modelVersions": run_model_versions}
FLOAT_FIELDS = ("MlflowMetricExtension", "MlflowMetricWithRunId", "MlflowModelMetric")
