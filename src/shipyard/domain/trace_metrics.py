"""MLflow's trace metrics (``QueryTraceMetrics``): what may be asked, and the arithmetic the
database does not do.

A query names a view (``TRACES``, ``SPANS`` or ``ASSESSMENTS``), one of the view's metrics,
the aggregations to compute over it and the dimensions to group by; filters, a time range and
time buckets narrow and split it. The vocabulary and the error messages are MLflow 3.17's
(``mlflow/store/tracking/utils/sql_trace_metrics_utils.py``, ``SearchTraceMetricsUtils``):
the UI and clients show them as they are.

Filters are one clause each, ``<view>.<entity>[.<key>] = '<value>'``: ``trace.status``,
``trace.tag.<key>``, ``trace.metadata.<key>``, ``span.name|status|type`` (SPANS view only),
``assessment.name|type`` (ASSESSMENTS view only). Tokenising is the run grammar's
(``domain.filters``), as for trace search.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from shipyard.domain.filters import _Parser, _tokenize, _unquote_key, _unquote_string
from shipyard.errors import InvalidArgument, InvalidFilter

__all__ = [
    "AGGREGATION_TYPES",
    "MAX_METRIC_RESULTS",
    "METRICS",
    "SPAN_COSTS",
    "TIME_BUCKET",
    "TOKEN_METRICS",
    "VIEW_TYPES",
    "Aggregation",
    "MetricFilter",
    "MetricQuery",
    "MetricSpec",
    "aggregate",
    "bucket_label",
    "check_query",
    "json_number",
    "parse_metric_filter",
    "percentile",
]

View = Literal["TRACES", "SPANS", "ASSESSMENTS"]
VIEW_TYPES: tuple[View, ...] = ("TRACES", "SPANS", "ASSESSMENTS")
AGGREGATION_TYPES = ("COUNT", "SUM", "AVG", "PERCENTILE", "MIN", "MAX")
MAX_METRIC_RESULTS = 1000  # MLflow's default page (MAX_RESULTS_QUERY_TRACE_METRICS)
TIME_BUCKET = "time_bucket"  # the dimension time buckets are reported under
MAX_FILTERS = 40  # each filter may join one table (SQLite joins at most 64)


@dataclass(frozen=True, slots=True)
class MetricSpec:
    aggregations: frozenset[str]
    dimensions: frozenset[str]


def _spec(aggregations: str, *dimensions: str) -> MetricSpec:
    return MetricSpec(frozenset(aggregations.split()), frozenset(dimensions))


_NUMERIC = "SUM AVG MIN MAX PERCENTILE"
_RANGE = "AVG MIN MAX PERCENTILE"
_SPAN_MODEL = ("span_model_name", "span_model_provider")
TOKEN_METRICS = (
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
)
SPAN_COSTS = ("input_cost", "output_cost", "total_cost")
# view → metric → its aggregations and dimensions; the order is MLflow's (its messages list them).
METRICS: dict[str, dict[str, MetricSpec]] = {
    "TRACES": {
        "trace_count": _spec("COUNT", "trace_name", "trace_status"),
        "session_count": _spec("COUNT"),
        "latency": _spec(_RANGE, "trace_name"),
        **{name: _spec(_NUMERIC, "trace_name") for name in TOKEN_METRICS},
    },
    "SPANS": {
        "span_count": _spec("COUNT", "span_name", "span_type", "span_status", *_SPAN_MODEL),
        "latency": _spec(_RANGE, "span_name", "span_status"),
        **{name: _spec(_NUMERIC, *_SPAN_MODEL) for name in SPAN_COSTS},
    },
    "ASSESSMENTS": {
        "assessment_count": _spec("COUNT", "assessment_name", "assessment_value"),
        "assessment_value": _spec(_RANGE, "assessment_name"),
    },
}

# filter view → entity → whether it takes a key (``trace.tag.<key>``)
_FILTER_ENTITIES: dict[str, dict[str, bool]] = {
    "trace": {"status": False, "tag": True, "metadata": True},
    "span": {"name": False, "status": False, "type": False},
    "assessment": {"name": False, "type": False},
}


@dataclass(frozen=True, slots=True)
class Aggregation:
    kind: str  # one of AGGREGATION_TYPES
    percentile: float | None = None

    @property
    def label(self) -> str:
        """The key of its value in a data point: ``AVG``, ``P95.0`` (MLflow's ``str()``)."""
        return f"P{self.percentile}" if self.kind == "PERCENTILE" else self.kind


@dataclass(frozen=True, slots=True)
class MetricFilter:
    view: str  # "trace", "span" or "assessment"
    entity: str
    key: str | None
    value: str


@dataclass(frozen=True, slots=True)
class MetricQuery:
    view: View
    metric: str
    aggregations: tuple[Aggregation, ...]
    dimensions: tuple[str, ...]
    filters: tuple[MetricFilter, ...]
    interval_seconds: int | None
    start_ms: int | None
    end_ms: int | None

    @property
    def percentiles(self) -> bool:
        """Percentiles are computed here over the selected values (one code path for SQLite,
        which has no percentile aggregate, and PostgreSQL)."""
        return any(a.kind == "PERCENTILE" for a in self.aggregations)

    @property
    def in_json(self) -> str | None:
        """The key of the JSON object the metric is read from, decoded here: token counts
        are in a trace's ``mlflow.trace.tokenUsage`` metadata, span costs in its
        ``mlflow.llm.cost`` attribute, both JSON text as the client wrote it, which the
        database cannot be trusted to parse (PostgreSQL fails the query on bad JSON)."""
        in_json = (self.view == "TRACES" and self.metric in TOKEN_METRICS) or self.metric in SPAN_COSTS
        return self.metric if in_json else None

    @property
    def grouping(self) -> tuple[str, ...]:
        """What a data point is keyed by, in MLflow's order: the time bucket first."""
        return ((TIME_BUCKET,) if self.interval_seconds else ()) + self.dimensions


def _aggregation(kind: str, percentile_value: float | None) -> Aggregation:
    if kind == "PERCENTILE":
        if percentile_value is None:
            raise InvalidArgument("Percentile value is required for PERCENTILE aggregation")
        if not 0 <= percentile_value <= 100:
            raise InvalidArgument(f"Percentile value must be between 0 and 100, got {percentile_value}")
        return Aggregation(kind, float(percentile_value))
    if percentile_value is not None:
        raise InvalidArgument(f"Percentile value is only allowed for PERCENTILE aggregation type, got {kind}")
    return Aggregation(kind)


def _check_time(interval: int | None, start_ms: int | None, end_ms: int | None) -> None:
    if interval and (start_ms is None or end_ms is None):
        raise InvalidArgument("start_time_ms and end_time_ms are required if time_interval_seconds is set")
    if interval is not None and interval < 0:
        raise InvalidArgument(f"time_interval_seconds must be positive; got {interval}")
    # Bounded so that bucket arithmetic stays within 64 bits, in milliseconds and nanoseconds.
    if interval and not interval <= 10**9:
        raise InvalidArgument(f"time_interval_seconds must be at most 10^9; got {interval}")
    for name, value in (("start_time_ms", start_ms), ("end_time_ms", end_ms)):
        if value is not None and not -(2**62) < value < 2**62:
            raise InvalidArgument(f"{name} is out of range: {value}")


def check_query(
    view: str,
    metric: str,
    aggregations: Sequence[tuple[str, float | None]],
    dimensions: Sequence[str],
    filters: Sequence[str],
    interval_seconds: int | None,
    start_ms: int | None,
    end_ms: int | None,
) -> MetricQuery:
    """The query, checked as MLflow checks it (its messages), or InvalidArgument."""
    if view not in METRICS:
        raise InvalidArgument(f"view_type must be one of {list(VIEW_TYPES)}, got '{view}'")
    metrics = METRICS[view]
    if metric not in metrics:
        raise InvalidArgument(f"metric_name must be one of {list(metrics)}, got '{metric}'")
    for kind, _ in aggregations:
        if kind not in AGGREGATION_TYPES:
            raise InvalidArgument(f"aggregation_type must be one of {list(AGGREGATION_TYPES)}, got '{kind}'")
    aggs = tuple(_aggregation(kind, value) for kind, value in aggregations)
    spec = metrics[metric]
    if invalid := {a.kind for a in aggs} - spec.aggregations:
        raise InvalidArgument(
            f"Found invalid aggregation_type(s): {sorted(invalid)}. "
            f"Supported aggregation types: {sorted(spec.aggregations)}"
        )
    if invalid := set(dimensions) - spec.dimensions:
        raise InvalidArgument(
            f"Found invalid dimension(s): {sorted(invalid)}. Supported dimensions: {sorted(spec.dimensions)}"
        )
    if len(filters) > MAX_FILTERS:
        raise InvalidArgument(f"at most {MAX_FILTERS} filters; got {len(filters)}")
    parsed = tuple(parse_metric_filter(text) for text in filters)
    for found in parsed:
        own = {"span": "SPANS", "assessment": "ASSESSMENTS"}.get(found.view)
        if own is not None and own != view:
            by = "span" if found.view == "span" else "assessment"
            raise InvalidArgument(f"Filtering by {by} is only supported for {own} view type, got {view}")
    _check_time(interval_seconds, start_ms, end_ms)
    return MetricQuery(
        view=view,  # type: ignore[arg-type]  # checked against METRICS above
        metric=metric,
        aggregations=aggs,
        dimensions=tuple(dict.fromkeys(dimensions)),
        filters=parsed,
        interval_seconds=interval_seconds or None,
        start_ms=start_ms,
        end_ms=end_ms,
    )


def _identifier(text: str) -> tuple[str, str, str | None]:
    prefix, raw = text.split("\0", 1)
    view = _unquote_key(prefix)
    entity, _, key = raw.partition(".")
    if view not in _FILTER_ENTITIES:
        raise InvalidFilter(f"Invalid view type '{view}'. Valid values are {list(_FILTER_ENTITIES)}")
    entities = _FILTER_ENTITIES[view]
    if entity not in entities:
        raise InvalidFilter(
            f"Invalid entity '{entity}' specified for view type '{view}'. Valid entities are {list(entities)}"
        )
    if entities[entity] and not key:
        raise InvalidFilter(f"Filtering by {entity} requires a key, e.g. '{view}.{entity}.<key> = <value>'")
    if not entities[entity] and key:
        raise InvalidFilter(f"Filtering by {entity} does not require a key, use '{view}.{entity}' instead")
    return view, entity, (_unquote_key(key) if key else None)


def parse_metric_filter(text: str) -> MetricFilter:
    """One filter clause: ``trace.tag.env = 'prod'``."""
    if len(text) > 10_000:
        raise InvalidFilter("a filter is longer than 10,000 characters")
    tokens = _tokenize(text)
    if not tokens:
        raise InvalidFilter(f"Invalid filter: '{text}'. Expected one filter clause.")
    parser = _Parser(tokens)
    kind, ident = parser.take("e.g. trace.status")
    if kind != "ident":
        raise InvalidFilter(
            f"Invalid identifier {ident!r}. Columns should be specified as "
            "'trace.<key>', 'span.<key>', 'assessment.<key>'."
        )
    view, entity, key = _identifier(ident)
    op = parser.operator()
    if op != "=":
        raise InvalidFilter(f"Invalid comparator: '{op}', only '=' operator is supported")
    value_kind, value = parser.take("a quoted value")
    if value_kind != "string":
        raise InvalidFilter(
            f"Expected a quoted string value for {entity} value (e.g. 'my-value'). Got value {value}"
        )
    if parser.peek() is not None:
        raise InvalidFilter(f"Invalid filter: '{text}'. Expected one filter clause.")
    return MetricFilter(view, entity, key, _unquote_string(value))


def json_number(text: str | None, key: str) -> float | None:
    """The number at ``key`` of a JSON object held as text (a ``mlflow.trace.tokenUsage``
    metadata value, a ``mlflow.llm.cost`` span attribute), or None when the text is not such
    an object, or its value at ``key`` is no finite number."""
    if not isinstance(text, str):
        return None
    try:
        found = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if isinstance(found, str):  # MLflow's client JSON-encodes attribute values once more
        return json_number(found, key)
    value = found.get(key) if isinstance(found, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def percentile(ordered: Sequence[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default, PostgreSQL's
    ``percentile_cont``, what MLflow computes): ``ordered`` is sorted and not empty."""
    position = (len(ordered) - 1) * p / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _values(values: list[float], aggregations: Sequence[Aggregation]) -> dict[str, float]:
    out: dict[str, float] = {}
    ordered = sorted(values)
    for agg in aggregations:
        if agg.kind == "COUNT":
            out[agg.label] = float(len(values))
        elif not values:
            continue  # SQL's SUM, AVG, MIN, MAX of nothing are NULL: left out, as MLflow does
        elif agg.kind == "SUM":
            out[agg.label] = math.fsum(values)
        elif agg.kind == "AVG":
            out[agg.label] = math.fsum(values) / len(values)
        elif agg.kind == "MIN":
            out[agg.label] = ordered[0]
        elif agg.kind == "MAX":
            out[agg.label] = ordered[-1]
        else:
            out[agg.label] = percentile(ordered, agg.percentile or 0.0)
    return out


def aggregate(
    rows: Iterable[tuple[tuple[Any, ...], float | None]], query: MetricQuery
) -> list[tuple[tuple[Any, ...], dict[str, float]]]:
    """Group ``(group key, value)`` rows and aggregate each group, in group order. Rows whose
    value or any key part is None are left out (MLflow filters them out before grouping);
    without a grouping there is always one point, as SQL's ungrouped aggregate has one row."""
    groups: dict[tuple[Any, ...], list[float]] = {}
    for key, value in rows:
        if value is None or any(part is None for part in key):
            continue
        groups.setdefault(key, []).append(value)
    if not query.grouping and not groups:
        groups[()] = []
    out = []
    for key in sorted(groups):
        values = _values(groups[key], query.aggregations)
        if values:
            out.append((key, values))
    return out


def bucket_label(start_ms: float) -> str:
    """A time bucket as MLflow names it: its start in ISO 8601, UTC."""
    return datetime.fromtimestamp(start_ms / 1000, tz=UTC).isoformat()
