"""MLflow's trace JSON (what ``/api/3.0/mlflow/traces/*`` answers) as the trace pages show it.

The answers are protobuf JSON (RFC 3339 times, ``"1.500s"`` durations, base64 span ids,
OpenTelemetry ``AnyValue`` attributes). Spans are decoded by the same OTLP/JSON reader the
server's ingest uses (``domain/otlp.py`` reads base64 ids and snake_case fields too), into
the domain's :class:`~shipyard.domain.traces.Span`; trace infos and assessments into the
small views below. Nothing here calls the API: the page module does.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

from shipyard.domain.otlp import decode_json
from shipyard.domain.traces import SOURCE_RUN_METADATA, TRACE_NAME_TAG, Span
from shipyard.server.mlflow.trace_json import duration_ms, timestamp_ms

__all__ = [
    "PAYLOAD_LIMIT",
    "AssessmentView",
    "AttachmentRef",
    "Payload",
    "SpanRow",
    "TraceView",
    "assessment_view",
    "attachments_of",
    "latency",
    "payload",
    "span_rows",
    "spans_of",
    "trace_view",
]

PAYLOAD_LIMIT = 32 * 1024  # characters of one pretty-printed value a page shows
# Image types a page draws inline (an <img> runs no script, but SVG is left out all the same:
# opened on its own it would be a document of this origin).
_INLINE_IMAGES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
_MAX_ATTACHMENTS = 50  # per span: a page lists, it does not dump
_SYSTEM = ("mlflow.",)


@dataclass(frozen=True, slots=True)
class AssessmentView:
    id: str
    name: str
    kind: str  # feedback, expectation
    value: Any
    source_type: str
    source_id: str | None
    rationale: str | None
    error: str | None
    span_id: str | None
    created: int
    valid: bool


@dataclass(frozen=True, slots=True)
class TraceView:
    id: str
    experiment_id: str
    request_time: int  # ms
    state: str
    duration: int | None  # ms
    request_preview: str
    response_preview: str
    tags: dict[str, str]
    metadata: dict[str, str]
    assessments: list[AssessmentView] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.tags.get(TRACE_NAME_TAG, "")

    @property
    def run_id(self) -> str | None:
        return self.metadata.get(SOURCE_RUN_METADATA) or None

    @property
    def user_tags(self) -> list[tuple[str, str]]:
        return sorted((k, v) for k, v in self.tags.items() if not k.startswith(_SYSTEM))

    @property
    def system_tags(self) -> list[tuple[str, str]]:
        return sorted((k, v) for k, v in self.tags.items() if k.startswith(_SYSTEM))


def _strings(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _error_text(error: Any) -> str | None:
    if not isinstance(error, dict) or not error:
        return None
    code, message = error.get("error_code"), error.get("error_message")
    text = ": ".join(str(p) for p in (code, message) if p)
    return text or json.dumps(error)


def assessment_view(data: dict[str, Any]) -> AssessmentView:
    kind = "feedback" if isinstance(data.get("feedback"), dict) else "expectation"
    body = data.get(kind) or {}
    value = body.get("value")
    if value is None and isinstance(body.get("serialized_value"), dict):
        value = body["serialized_value"].get("value")  # an expectation MLflow serialised itself
    source = data.get("source") or {}
    created = data.get("create_time")
    return AssessmentView(
        id=str(data.get("assessment_id", "")),
        name=str(data.get("assessment_name", "")),
        kind=kind,
        value=value,
        source_type=str(source.get("source_type", "")).removeprefix("SOURCE_TYPE_"),
        source_id=source.get("source_id"),
        rationale=data.get("rationale"),
        error=_error_text(body.get("error")) or _error_text(data.get("error")),
        span_id=data.get("span_id") or None,
        created=timestamp_ms(created, "create_time") if created else 0,
        valid=data.get("valid", True) is not False,
    )


def trace_view(data: dict[str, Any]) -> TraceView:
    """A ``TraceInfoV3`` as the API answered it."""
    location = (data.get("trace_location") or {}).get("mlflow_experiment") or {}
    duration = data.get("execution_duration")
    return TraceView(
        id=str(data["trace_id"]),
        experiment_id=str(location.get("experiment_id", "")),
        request_time=timestamp_ms(data.get("request_time", 0), "request_time"),
        state=str(data.get("state", "STATE_UNSPECIFIED")),
        duration=None if duration is None else duration_ms(duration, "execution_duration"),
        request_preview=str(data.get("request_preview") or ""),
        response_preview=str(data.get("response_preview") or ""),
        tags=_strings(data.get("tags")),
        metadata=_strings(data.get("trace_metadata")),
        assessments=[assessment_view(a) for a in data.get("assessments") or [] if isinstance(a, dict)],
    )


def _value(value: Any) -> Any:
    """MLflow's client puts each attribute in OpenTelemetry as JSON text (``'"LLM"'``,
    ``'{"q": 1}'``) and reads it back with ``json.loads``; the page shows what it decodes to.
    Text that is not JSON (another producer's plain string) stays as it is."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def spans_of(items: list[dict[str, Any]]) -> list[Span]:
    """A trace's spans (``Trace.spans`` as ``traces/get`` answers them), attribute values
    decoded as MLflow's client decodes them."""
    found = decode_json({"resourceSpans": [{"scopeSpans": [{"spans": items}]}]})
    spans = [s for block in found for s in block.spans]
    for span in spans:
        span.attributes = {k: _value(v) for k, v in span.attributes.items()}
        span.inputs, span.outputs = _value(span.inputs), _value(span.outputs)
    return spans


@dataclass(frozen=True, slots=True)
class SpanRow:
    """One line of the span tree: the span, how deep it sits, and its waterfall bar as
    percentages of the trace's whole time (drawn by CSS, no script)."""

    span: Span
    depth: int
    offset_ms: float
    duration_ms: float | None  # None: the span never ended
    left: float
    width: float


def span_rows(spans: list[Span]) -> list[SpanRow]:
    """Depth-first, children by start time; a span whose parent is not in the trace is shown
    as a root (a producer may send only part of a trace), and a cycle cannot loop."""
    if not spans:
        return []
    ids = {s.span_id for s in spans}
    children: dict[str | None, list[Span]] = {}
    for span in spans:
        parent = span.parent_span_id if span.parent_span_id in ids else None
        children.setdefault(parent, []).append(span)
    for group in children.values():
        group.sort(key=lambda s: (s.start_time_ns, s.name))
    start = min(s.start_time_ns for s in spans)
    end = max(max(s.end_time_ns or s.start_time_ns, s.start_time_ns) for s in spans)
    total = max(end - start, 1)
    rows: list[SpanRow] = []
    seen: set[str] = set()

    def walk(span: Span, depth: int) -> None:
        if span.span_id in seen:
            return
        seen.add(span.span_id)
        stop = span.end_time_ns if span.end_time_ns is not None else end
        left = (span.start_time_ns - start) / total * 100
        rows.append(
            SpanRow(
                span=span,
                depth=depth,
                offset_ms=(span.start_time_ns - start) / 1e6,
                duration_ms=None if span.end_time_ns is None else max(stop - span.start_time_ns, 0) / 1e6,
                left=round(min(left, 99.5), 2),
                width=round(max(min((stop - span.start_time_ns) / total * 100, 100 - left), 0.5), 2),
            )
        )
        for child in children.get(span.span_id, []):
            walk(child, depth + 1)

    for root in children.get(None, []):
        walk(root, 0)
    for span in spans:  # what a cycle of parents left unreached
        walk(span, 0)
    return rows


@dataclass(frozen=True, slots=True)
class Payload:
    text: str
    size: int  # characters of the whole pretty-printed value
    cut: bool


def payload(value: Any, limit: int = PAYLOAD_LIMIT) -> Payload:
    """A value pretty-printed as JSON (text as itself), cut at ``limit`` characters. The
    template escapes it: a trace's contents are the user's data, never markup."""
    text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return Payload(text[:limit], len(text), len(text) > limit)


def latency(ms: float | None) -> str:
    if ms is None:
        return "—"
    if ms == 0:
        return "< 1 ms"  # MLflow keeps a trace's time in whole milliseconds
    if ms < 1:
        return f"{ms:.2f} ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.2f} s"
    return f"{int(ms // 60_000)}m {int(ms % 60_000 // 1000)}s"


@dataclass(frozen=True, slots=True)
class AttachmentRef:
    """An ``mlflow.Attachment`` a span's inputs or outputs refer to:
    ``mlflow-attachment://<uuid>?content_type=…&trace_id=…&size=…``."""

    id: str
    content_type: str
    size: int | None
    where: str  # "inputs" or "outputs"
    url: str  # the UI's route to its bytes (the API, same origin, the session's cookie)

    @property
    def inline(self) -> bool:
        return self.content_type in _INLINE_IMAGES


def _attachment(text: str, trace_id: str, where: str) -> AttachmentRef | None:
    parsed = urlparse(text)
    if parsed.scheme != "mlflow-attachment" or not parsed.netloc:
        return None
    try:
        attachment_id = str(uuid.UUID(parsed.netloc))
    except ValueError:
        return None
    query = parse_qs(parsed.query)
    size = (query.get("size") or [""])[0]
    url = "/ajax-api/2.0/mlflow/get-trace-artifact?" + urlencode(
        {"request_id": trace_id, "path": attachment_id}
    )
    return AttachmentRef(
        id=attachment_id,
        content_type=(query.get("content_type") or ["application/octet-stream"])[0][:100],
        size=int(size) if size.isdigit() else None,
        where=where,
        url=url,
    )


def attachments_of(span: Span, trace_id: str) -> list[AttachmentRef]:
    """The attachments a span's inputs and outputs name, in order, each once."""
    found: dict[str, AttachmentRef] = {}

    def walk(value: Any, where: str) -> None:
        if len(found) >= _MAX_ATTACHMENTS:
            return
        if isinstance(value, str):
            if value.startswith("mlflow-attachment://"):
                ref = _attachment(value, trace_id, where)
                if ref is not None:
                    found.setdefault(ref.id, ref)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item, where)
        elif isinstance(value, list):
            for item in value:
                walk(item, where)

    walk(span.inputs, "inputs")
    walk(span.outputs, "outputs")
    return list(found.values())
