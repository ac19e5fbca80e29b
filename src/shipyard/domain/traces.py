"""Traces (MLflow 3 tracing): a trace's info, its spans and the assessments made of it.

A trace belongs to one experiment. Its spans arrive over OpenTelemetry (each span as it
ends); the trace's info arrives once the whole call is done (``start_trace``, which MLflow
names so for historical reasons). Either may come first, so both create the trace.

Values are as MLflow's client sends them: span attributes are JSON values (MLflow puts
JSON-encoded text in OpenTelemetry string attributes; the decoded value is what we keep),
times of spans are nanoseconds, times of traces milliseconds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from shipyard.domain.validation import MAX_NAME_LENGTH, MAX_TAG_VALUE_LENGTH, check_key, check_value
from shipyard.errors import InvalidArgument

__all__ = [
    "ARTIFACT_LOCATION_TAG",
    "INPUTS_ATTRIBUTE",
    "LINKED_PROMPTS_TAG",
    "MAX_TIME_MS",
    "MAX_TRACE_ID_LENGTH",
    "OUTPUTS_ATTRIBUTE",
    "SESSION_METADATA",
    "SOURCE_RUN_METADATA",
    "SPANS_LOCATION_TAG",
    "SPAN_TYPE_ATTRIBUTE",
    "TRACE_NAME_TAG",
    "TRACE_STATES",
    "Assessment",
    "AssessmentKind",
    "Span",
    "TraceInfo",
    "check_assessment",
    "check_trace_id",
    "link_prompts",
    "linked_prompt_entry",
    "otel_trace_id",
]

TRACE_NAME_TAG = "mlflow.traceName"
SPANS_LOCATION_TAG = "mlflow.trace.spansLocation"
ARTIFACT_LOCATION_TAG = "mlflow.artifactLocation"
SOURCE_RUN_METADATA = "mlflow.sourceRun"
# The conversation a trace belongs to; an assessment with this key in its metadata is of
# the whole session (MLflow 3.17).
SESSION_METADATA = "mlflow.trace.session"
INPUTS_ATTRIBUTE = "mlflow.spanInputs"
OUTPUTS_ATTRIBUTE = "mlflow.spanOutputs"
SPAN_TYPE_ATTRIBUTE = "mlflow.spanType"
# The prompt versions a trace used: a JSON list of {"name", "version"} (version a string),
# written by MLflow's client when a traced call loads a prompt, and by ``link-prompts``.
LINKED_PROMPTS_TAG = "mlflow.linkedPrompts"
TRACE_STATES = ("OK", "ERROR", "IN_PROGRESS", "STATE_UNSPECIFIED")
MAX_TRACE_ID_LENGTH = 128
# Times past the year 9999 have no RFC 3339 spelling, which is how MLflow answers them.
MAX_TIME_MS = 253_402_300_800_000

# MLflow's ids are "tr-" and 32 hex digits; other producers' are similar. No "/" (the id
# names a folder of the artifact store) and nothing a path or a URL would need to escape.
_TRACE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")

AssessmentKind = Literal["feedback", "expectation"]


def check_trace_id(trace_id: object) -> str:
    if not isinstance(trace_id, str) or not _TRACE_ID.match(trace_id):
        raise InvalidArgument(
            f"a trace id is 1-{MAX_TRACE_ID_LENGTH} letters, digits, '_', '.', ':' or '-'"
            f" (MLflow's are 'tr-' and 32 hex digits); got {str(trace_id)[:80]!r}"
        )
    return trace_id


def otel_trace_id(raw: bytes) -> str:
    """MLflow's id of the trace OpenTelemetry calls ``raw`` (16 bytes)."""
    return "tr-" + raw.hex()


@dataclass(slots=True)
class TraceInfo:
    trace_id: str
    experiment_id: str
    request_time: int
    state: str
    execution_duration: int | None = None
    client_request_id: str | None = None
    request_preview: str | None = None
    response_preview: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    assessments: list[Assessment] = field(default_factory=list)
    created_by: str = ""
    artifact_location: str = ""
    """The experiment's artifact folder; the trace's payloads live under ``traces/<id>``."""


@dataclass(slots=True)
class Span:
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    start_time_ns: int
    end_time_ns: int | None
    status_code: str  # "OK", "ERROR" or "UNSET"
    status_message: str | None = None
    trace_state: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    """Every attribute but the inputs and outputs, as JSON values."""
    inputs: Any = None
    outputs: Any = None
    events: list[dict[str, Any]] = field(default_factory=list)
    """``{"name", "time_unix_nano", "attributes"}`` each."""

    @property
    def span_type(self) -> str | None:
        value = self.attributes.get(SPAN_TYPE_ATTRIBUTE)
        return value if isinstance(value, str) else None

    def all_attributes(self) -> dict[str, Any]:
        """The attributes as the producer sent them: inputs and outputs back among them."""
        merged = dict(self.attributes)
        if self.inputs is not None:
            merged[INPUTS_ATTRIBUTE] = self.inputs
        if self.outputs is not None:
            merged[OUTPUTS_ATTRIBUTE] = self.outputs
        return merged


@dataclass(slots=True)
class Assessment:
    """Feedback or an expectation about a trace (or one of its spans).

    ``value`` is the feedback or expectation message as MLflow sends it (its ``value``, or
    ``serialized_value``, and a feedback's ``error``), kept whole so it reads back the same.
    """

    assessment_id: str
    trace_id: str
    name: str
    kind: AssessmentKind
    value: dict[str, Any]
    source_type: str
    source_id: str | None
    created_at: int
    updated_at: int
    span_id: str | None = None
    rationale: str | None = None
    error: dict[str, Any] | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    overrides: str | None = None
    valid: bool = True
    run_id: str | None = None


MAX_VALUE_BYTES = 1024 * 1024
_SOURCE_TYPES = {"HUMAN", "LLM_JUDGE", "CODE", "SOURCE_TYPE_UNSPECIFIED", "AI_JUDGE"}


def check_assessment(assessment: Assessment) -> Assessment:
    if not isinstance(assessment.name, str) or not assessment.name or len(assessment.name) > MAX_NAME_LENGTH:
        raise InvalidArgument(f"an assessment needs a name of 1-{MAX_NAME_LENGTH} characters")
    if assessment.source_type not in _SOURCE_TYPES:
        raise InvalidArgument(
            f"assessment source_type must be one of {', '.join(sorted(_SOURCE_TYPES))};"
            f" got {assessment.source_type[:40]!r}"
        )
    for what, ref in (
        ("assessment_id", assessment.assessment_id),
        ("span_id", assessment.span_id),
        ("overrides", assessment.overrides),
    ):
        if ref is not None and len(ref) > 64:
            raise InvalidArgument(f"an assessment's {what} is at most 64 characters")
    if assessment.source_id is not None and len(assessment.source_id) > 256:
        raise InvalidArgument("assessment source_id is longer than 256 characters")
    if assessment.rationale is not None and not isinstance(assessment.rationale, str):
        raise InvalidArgument("an assessment's rationale is a string")
    if assessment.rationale is not None and len(assessment.rationale) > MAX_VALUE_BYTES:
        raise InvalidArgument(f"rationale is longer than {MAX_VALUE_BYTES} characters")
    if len(orjson.dumps(assessment.value)) > MAX_VALUE_BYTES:
        raise InvalidArgument(f"an assessment's value is more than {MAX_VALUE_BYTES} bytes of JSON")
    assessment.metadata = {
        check_key("metadata key", k): check_value("metadata key", k, v, MAX_TAG_VALUE_LENGTH)
        for k, v in assessment.metadata.items()
    }
    return assessment


# -- prompts linked to a trace ---------------------------------------------------------------

_PROMPT_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,256}$")  # MLflow's rule


def linked_prompt_entry(name: str, version: str) -> str:
    """One entry of the linked-prompts tag as MLflow's client spells it (``json.dumps``)."""
    return json.dumps({"name": name, "version": version})


def link_prompts(current: str | None, versions: Sequence[tuple[str, str]]) -> str | None:
    """The linked-prompts tag with ``versions`` (name, version) added once each; None when
    nothing changes. A tag that is not a JSON list is refused, as MLflow's client does."""
    entries: object = []
    if current is not None:
        try:
            entries = json.loads(current)
        except ValueError:
            entries = None
    if not isinstance(entries, list):
        raise InvalidArgument(
            f"the trace's {LINKED_PROMPTS_TAG} tag is not a JSON list: {str(current)[:200]!r}"
        )
    fresh: list[dict[str, str]] = []
    for name, version in versions:
        if not isinstance(name, str) or not _PROMPT_NAME.match(name):
            raise InvalidArgument(
                f"a prompt name is 1-256 letters, digits, '_', '-' or '.'; got {str(name)[:80]!r}"
            )
        if not (isinstance(version, str) and version.isascii() and version.isdigit() and len(version) <= 10):
            raise InvalidArgument(f"a prompt version is a positive integer; got {str(version)[:40]!r}")
        entry = {"name": name, "version": str(int(version))}
        if entry not in entries and entry not in fresh:
            fresh.append(entry)
    if not fresh:
        return None
    return json.dumps([*entries, *fresh])
