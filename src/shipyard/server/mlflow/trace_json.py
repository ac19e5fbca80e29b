"""Traces in MLflow's JSON: ``TraceInfoV3``, OpenTelemetry spans, ``Assessment``.

The client reads these with protobuf's JSON parser, so they follow protobuf's JSON mapping:
times of traces are RFC 3339 strings and durations ``"1.500s"``, span ids base64 bytes,
64-bit integers strings, attribute values OpenTelemetry ``AnyValue`` objects.
"""

from __future__ import annotations

import base64
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from shipyard.domain.traces import (
    ARTIFACT_LOCATION_TAG,
    MAX_TIME_MS,
    Assessment,
    AssessmentKind,
    Span,
    TraceInfo,
)
from shipyard.errors import InvalidArgument
from shipyard.server.mlflow._convert import ARTIFACT_SCHEME
from shipyard.services.trace_payloads import trace_folder

__all__ = [
    "assessment_in",
    "assessment_out",
    "duration_ms",
    "span_dict",
    "span_out",
    "timestamp_ms",
    "trace_info_in",
    "trace_info_out",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
_DURATION = re.compile(r"^(\d+)(\.\d{1,9})?s$")
REQUEST_ID_ATTRIBUTE = "mlflow.traceRequestId"
_STATUS_OUT = {"OK": "STATUS_CODE_OK", "ERROR": "STATUS_CODE_ERROR", "UNSET": "STATUS_CODE_UNSET"}


# -- times -----------------------------------------------------------------------------


def timestamp_ms(value: Any, what: str) -> int:
    """A protobuf ``Timestamp`` in JSON (``"2025-01-01T00:00:00.123Z"``) in milliseconds;
    plain milliseconds are taken too."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value < MAX_TIME_MS:
            raise InvalidArgument(
                f"{what} must be milliseconds between the epoch and the year 10000; got {value}"
            )
        return value
    match = _TIMESTAMP.match(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidArgument(
            f"{what} must be an RFC 3339 time such as '2025-01-01T00:00:00.000Z'; got {value!r}"
        )
    base = datetime.fromisoformat(match.group(1) + ("+00:00" if match.group(3) == "Z" else match.group(3)))
    fraction = match.group(2) or ".0"
    return (base - _EPOCH) // timedelta(milliseconds=1) + int(fraction[1:].ljust(3, "0")[:3])


def timestamp_text(ms: int) -> str:
    seconds, millis = divmod(ms, 1000)
    return (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S") + f".{millis:03d}Z"


def duration_ms(value: Any, what: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value < MAX_TIME_MS:
            raise InvalidArgument(f"{what} must be a non-negative number of milliseconds; got {value}")
        return value
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidArgument(f"{what} must be a duration such as '1.500s'; got {value!r}")
    return int(match.group(1)) * 1000 + int((match.group(2) or ".0")[1:].ljust(3, "0")[:3])


# -- trace info ------------------------------------------------------------------------


def _text(data: dict[str, Any], key: str) -> str | None:
    """An optional string field; another JSON type is the client's mistake, said so."""
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidArgument(f"Invalid value {str(value)[:40]!r} for parameter '{key}': expected a string.")
    return value


def _string_map(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise InvalidArgument(f"{what} must be an object of strings")
    return dict(value)


def trace_info_in(data: Any) -> TraceInfo:
    """A ``TraceInfoV3`` message from the client."""
    if not isinstance(data, dict):
        raise InvalidArgument("Missing value for required parameter 'trace.trace_info'.")
    location = data.get("trace_location") or {}
    experiment = location.get("mlflow_experiment") if isinstance(location, dict) else None
    if not isinstance(experiment, dict) or not isinstance(experiment.get("experiment_id"), str):
        raise InvalidArgument(
            "trace_location must be an MLflow experiment ({'type': 'MLFLOW_EXPERIMENT', 'mlflow_experiment':"
            " {'experiment_id': ...}}); other locations are not supported by this server"
        )
    trace_id = data.get("trace_id")
    if not isinstance(trace_id, str) or not trace_id:
        raise InvalidArgument("Missing value for required parameter 'trace_id'.")
    state = data.get("state") or "STATE_UNSPECIFIED"
    return TraceInfo(
        trace_id=trace_id,
        experiment_id=experiment["experiment_id"],
        request_time=timestamp_ms(data.get("request_time", 0), "request_time"),
        state=state if isinstance(state, str) else str(state),
        execution_duration=(
            duration_ms(data["execution_duration"], "execution_duration")
            if data.get("execution_duration") is not None
            else None
        ),
        client_request_id=_text(data, "client_request_id"),
        request_preview=_text(data, "request_preview"),
        response_preview=_text(data, "response_preview"),
        tags=_string_map(data.get("tags"), "tags"),
        metadata=_string_map(data.get("trace_metadata"), "trace_metadata"),
        assessments=[assessment_in(a, trace_id) for a in data.get("assessments") or []],
    )


def trace_info_out(info: TraceInfo) -> dict[str, Any]:
    tags = dict(info.tags)
    tags[ARTIFACT_LOCATION_TAG] = (
        ARTIFACT_SCHEME + trace_folder(info.artifact_location, info.trace_id) + "/artifacts"
    )
    out: dict[str, Any] = {
        "trace_id": info.trace_id,
        "trace_location": {
            "type": "MLFLOW_EXPERIMENT",
            "mlflow_experiment": {"experiment_id": info.experiment_id},
        },
        "request_time": timestamp_text(info.request_time),
        "state": info.state,
        "trace_metadata": info.metadata,
        "tags": tags,
        "assessments": [assessment_out(a) for a in info.assessments],
    }
    if info.execution_duration is not None:
        seconds, millis = divmod(info.execution_duration, 1000)
        out["execution_duration"] = f"{seconds}.{millis:03d}s"
    for key, value in (
        ("client_request_id", info.client_request_id),
        ("request_preview", info.request_preview),
        ("response_preview", info.response_preview),
    ):
        if value is not None:
            out[key] = value
    return out


# -- spans -----------------------------------------------------------------------------


def _any(value: Any) -> dict[str, Any]:
    """A JSON value as OpenTelemetry's ``AnyValue``."""
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"bool_value": value}
    if isinstance(value, int):
        return {"int_value": str(value)} if -(2**63) <= value < 2**63 else {"string_value": str(value)}
    if isinstance(value, float):
        if math.isfinite(value):
            return {"double_value": value}
        return {"double_value": "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")}
    if isinstance(value, str):
        return {"string_value": value}
    if isinstance(value, list):
        return {"array_value": {"values": [_any(v) for v in value]}}
    if isinstance(value, dict):
        return {"kvlist_value": {"values": [{"key": str(k), "value": _any(v)} for k, v in value.items()]}}
    return {"string_value": str(value)}


def _id_bytes(hex_id: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_id)).decode()


def _trace_hex(trace_id: str) -> str:
    return trace_id.removeprefix("tr-")


def span_out(span: Span) -> dict[str, Any]:
    """An OpenTelemetry ``Span`` message (what ``Trace.spans`` holds)."""
    out: dict[str, Any] = {
        "trace_id": _id_bytes(_trace_hex(span.trace_id)),
        "span_id": _id_bytes(span.span_id),
        "name": span.name,
        "start_time_unix_nano": str(span.start_time_ns),
        "attributes": [{"key": k, "value": _any(v)} for k, v in span.all_attributes().items()],
        "events": [
            {
                "time_unix_nano": str(e.get("time_unix_nano", 0)),
                "name": e.get("name", ""),
                "attributes": [{"key": k, "value": _any(v)} for k, v in (e.get("attributes") or {}).items()],
            }
            for e in span.events
        ],
        "status": {"code": _STATUS_OUT.get(span.status_code, "STATUS_CODE_UNSET")},
    }
    if span.status_message:
        out["status"]["message"] = span.status_message
    if span.parent_span_id:
        out["parent_span_id"] = _id_bytes(span.parent_span_id)
    if span.end_time_ns is not None:
        out["end_time_unix_nano"] = str(span.end_time_ns)
    if span.trace_state:
        out["trace_state"] = span.trace_state
    return out


def span_dict(span: Span) -> dict[str, Any]:
    """A span as MLflow's ``Span.to_dict`` writes it (``traces.json``, what its UI reads):
    attribute values JSON-encoded text."""
    return {
        "trace_id": _id_bytes(_trace_hex(span.trace_id)),
        "span_id": _id_bytes(span.span_id),
        "parent_span_id": _id_bytes(span.parent_span_id) if span.parent_span_id else None,
        "name": span.name,
        "start_time_unix_nano": span.start_time_ns,
        "end_time_unix_nano": span.end_time_ns,
        "events": span.events,
        "status": {
            "code": _STATUS_OUT.get(span.status_code, "STATUS_CODE_UNSET"),
            "message": span.status_message or "",
        },
        # MLflow's reader needs the trace's id among them; a span from another OTLP producer lacks it.
        "attributes": {
            **{k: orjson.dumps(v).decode() for k, v in span.all_attributes().items()},
            REQUEST_ID_ATTRIBUTE: orjson.dumps(span.trace_id).decode(),
        },
    }


# -- assessments -----------------------------------------------------------------------


def assessment_in(data: Any, trace_id: str | None = None) -> Assessment:
    """An ``Assessment`` message (its id, if any, is the server's to give)."""
    if not isinstance(data, dict):
        raise InvalidArgument("Missing value for required parameter 'assessment'.")
    kind: AssessmentKind
    if isinstance(data.get("feedback"), dict):
        kind, value = "feedback", data["feedback"]
    elif isinstance(data.get("expectation"), dict):
        kind, value = "expectation", data["expectation"]
    else:
        raise InvalidArgument("an assessment holds a feedback or an expectation; this one has neither")
    source = data.get("source") or {}
    if not isinstance(source, dict):
        raise InvalidArgument("assessment source must be an object {source_type, source_id}")
    name = data.get("assessment_name")
    if not isinstance(name, str):
        raise InvalidArgument("Missing value for required parameter 'assessment_name'.")
    now = 0  # the service stamps missing times
    metadata = _string_map(data.get("metadata"), "assessment metadata")
    error = data.get("error")
    return Assessment(
        assessment_id=_text(data, "assessment_id") or "",  # kept only from a trace's own info
        trace_id=trace_id or str(data.get("trace_id") or ""),
        name=name,
        kind=kind,
        value=value,
        source_type=str(source.get("source_type") or "SOURCE_TYPE_UNSPECIFIED"),
        source_id=_text(source, "source_id"),
        created_at=timestamp_ms(data["create_time"], "create_time") if data.get("create_time") else now,
        updated_at=timestamp_ms(data["last_update_time"], "last_update_time")
        if data.get("last_update_time")
        else now,
        span_id=_text(data, "span_id"),
        rationale=_text(data, "rationale"),
        error=error if isinstance(error, dict) else None,
        metadata=metadata,
        overrides=_text(data, "overrides"),
    )


def assessment_out(found: Assessment) -> dict[str, Any]:
    source: dict[str, Any] = {"source_type": found.source_type}
    if found.source_id is not None:
        source["source_id"] = found.source_id
    out: dict[str, Any] = {
        "assessment_id": found.assessment_id,
        "assessment_name": found.name,
        "trace_id": found.trace_id,
        "source": source,
        "create_time": timestamp_text(found.created_at),
        "last_update_time": timestamp_text(found.updated_at),
        found.kind: found.value,
        "metadata": found.metadata,
        "valid": found.valid,
    }
    for key, value in (
        ("span_id", found.span_id),
        ("rationale", found.rationale),
        ("error", found.error),
        ("overrides", found.overrides),
    ):
        if value is not None:
            out[key] = value
    return out
