"""Traces (MLflow 3 tracing): trace info, spans, assessments and their links to runs.

Their MLflow routes are served by the MLflow layer (``server/mlflow/__init__.py`` includes
``server/mlflow/traces.py`` under ``/api/2.0/mlflow`` and ``/api/3.0/mlflow``); OTLP span
ingest and ``/version`` are routes of their own, outside ``/api``. A trace belongs to an
experiment, so its routes take the experiments' permissions.
"""

from shipyard.resources import Resource, RouteRule

__all__ = ["RESOURCE"]

_READ, _WRITE, _DELETE = (
    RouteRule("experiments:read"),
    RouteRule("experiments:write"),
    RouteRule("experiments:delete"),
)
_TRACE = "/traces/{trace_id}"
_ONE_ASSESSMENT = f"{_TRACE}/assessments/{{assessment_id}}"
_PER_VERSION = {
    ("POST", "/traces"): _WRITE,
    ("GET", "/traces/get"): _READ,
    ("GET", "/traces/batchGet"): _READ,
    ("POST", "/traces/batchGetInfos"): _READ,
    ("POST", "/traces/search"): _READ,
    ("POST", "/traces/delete-traces"): _DELETE,
    ("POST", "/traces/link-to-run"): _WRITE,
    ("POST", "/traces/calculate-filter-correlation"): _READ,
    ("POST", "/traces/link-prompts"): _WRITE,
    # MLflow 2.x's trace messages: v2 SearchTraces, GetTraceInfo and EndTrace.
    ("GET", "/traces"): _READ,
    ("GET", f"{_TRACE}/info"): _READ,
    ("PATCH", _TRACE): _WRITE,
    ("GET", _TRACE): _READ,
    ("PATCH", f"{_TRACE}/tags"): _WRITE,
    ("DELETE", f"{_TRACE}/tags"): _DELETE,
    ("POST", f"{_TRACE}/assessments"): _WRITE,
    ("GET", _ONE_ASSESSMENT): _READ,
    ("PATCH", _ONE_ASSESSMENT): _WRITE,
    ("DELETE", _ONE_ASSESSMENT): _DELETE,
}

RESOURCE = Resource(
    name="traces",
    position=42,
    repositories={
        "traces": "shipyard.stores.sql.traces:SqlTraceRepository",
        "trace_metrics": "shipyard.stores.sql.trace_metrics:SqlTraceMetricsRepository",
    },
    tables=("shipyard.stores.sql.schema_traces",),
    services={
        "traces": "shipyard.server.providers.traces:traces",
        "trace_assessments": "shipyard.server.providers.traces:trace_assessments",
        "trace_metrics": "shipyard.server.providers.trace_metrics:trace_metrics",
    },
    routers=("shipyard.server.mlflow.otlp:router",),
    rules={
        **{
            (method, f"/api/{version}/mlflow{path}"): rule
            for version in ("2.0", "3.0")
            for (method, path), rule in _PER_VERSION.items()
        },
        ("GET", "/api/2.0/mlflow/get-trace-artifact"): _READ,
        # Trace metrics read the experiments' traces, as search does (MLflow serves them under 3.0).
        ("POST", "/api/3.0/mlflow/traces/metrics"): _READ,
        # Span ingest writes traces of an experiment; /version is asked with the client's
        # credential like every MLflow call, so it needs a principal (no anonymous answers).
        ("POST", "/v1/traces"): _WRITE,
        ("GET", "/version"): RouteRule("signed-in"),
    },
)
