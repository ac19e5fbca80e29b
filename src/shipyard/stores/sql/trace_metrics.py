"""Trace metrics in SQL: one inner query selects each matching row's group (time bucket and
dimensions) and value; the outer one groups and aggregates it.

The two levels keep GROUP BY to plain column references: on PostgreSQL an expression with
bound parameters (the bucket width, a JSON key) in both SELECT and GROUP BY is two different
expressions to the planner. Values inside JSON (a span's model and cost attributes, an
assessment's value) are read with the database's JSON functions: these columns hold JSON
Shipyard wrote itself, so they always parse; what the client wrote inside them (a cost
object JSON-encoded in a string attribute) is decoded by the service. PostgreSQL reads them as ``json``, not
``jsonb``, which refuses a ``\\u0000`` escape that ``json`` keeps.

Rows a group or value is NULL for are left out before grouping (MLflow's rule): a span
without a model is in no ``span_model_name`` group, a trace without token usage in no token
average.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    Float,
    Select,
    String,
    and_,
    case,
    cast,
    distinct,
    exists,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.sql.elements import ColumnElement

from shipyard.domain.trace_metrics import MetricFilter, MetricQuery
from shipyard.domain.traces import SOURCE_RUN_METADATA, TRACE_NAME_TAG
from shipyard.services.trace_metrics import Group, TraceMetricsRepository
from shipyard.stores.sql import schema_traces as t

__all__ = ["SqlTraceMetricsRepository"]

_tr, _sp, _as = t.traces.c, t.trace_spans.c, t.trace_assessments.c
_SESSION_METADATA = "mlflow.trace.session"
_TOKEN_USAGE_METADATA = "mlflow.trace.tokenUsage"  # noqa: S105 - a metadata key
_MODEL, _PROVIDER, _COST = "mlflow.llm.model", "mlflow.llm.provider", "mlflow.llm.cost"
_NS_PER_MS = 1_000_000
_SPAN_COLUMNS = {"name": _sp.name, "status": _sp.status_code, "type": _sp.span_type}
_ASSESSMENT_COLUMNS = {"name": _as.name, "type": _as.kind}


class _Json:
    """Typed reads of one path in a JSON text column, on either database."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres

    def _at(self, column: Any, keys: Sequence[str]) -> tuple[Any, Any]:
        """(the JSON type name at ``keys``, its value as SQL text or number)."""
        if self.postgres:
            doc = cast(column, JSON)
            return func.json_typeof(func.json_extract_path(doc, *keys)), func.json_extract_path_text(
                doc, *keys
            )
        path = "$" + "".join(f'."{key}"' for key in keys)
        return func.json_type(column, path), func.json_extract(column, path)

    def raw(self, column: Any, keys: Sequence[str]) -> Any:
        """The value at ``keys``: a string as itself, anything else as JSON text."""
        return self._at(column, keys)[1]

    def string(self, column: Any, keys: Sequence[str]) -> Any:
        """The string at ``keys`` (none when it is something else), unquoted: MLflow's client
        sends span attributes JSON-encoded (``"gpt-4o"`` with its quotes)."""
        kind, value = self._at(column, keys)
        return case((kind == ("string" if self.postgres else "text"), _unquoted(value)))

    def text(self, column: Any, key: str) -> Any:
        """The JSON text of the value at ``key`` (``true``, ``"yes"``, ``0.5``)."""
        if self.postgres:
            return cast(func.json_extract_path(cast(column, JSON), key), String)
        return column.op("->")(f'$."{key}"')  # SQLite 3.38+: the JSON text, strings quoted

    def assessment_number(self, column: Any) -> Any:
        """MLflow's numeric reading of an assessment value: booleans 1/0, numbers as they
        are, "yes"/"no" (any case, trimmed) 1/0; anything else none."""
        kind, value = self._at(column, ["value"])
        word = func.lower(func.trim(value))
        yes_no = case((word == "yes", 1.0), (word == "no", 0.0))
        if self.postgres:
            return case(
                (kind == "boolean", case((value == "true", 1.0), else_=0.0)),
                (kind == "number", cast(value, Float)),
                (kind == "string", yes_no),
            )
        return case(
            (kind == "true", 1.0),
            (kind == "false", 0.0),
            (kind.in_(("integer", "real")), value),
            (kind == "text", yes_no),
        )


def _unquoted(text: Any) -> Any:
    """A JSON-encoded string attribute without its quotes (one that is not, as it is). Span
    types and model names hold no escapes, so stripping the quotes decodes them."""
    return case((text.like('"%"'), func.substr(text, 2, func.length(text) - 2)), else_=text)


def _pair(table: Any, key: str, value: str) -> ColumnElement[bool]:
    return exists().where(table.c.trace_pk == _tr.pk, table.c.key == key, table.c.value == value)


def _condition(found: MetricFilter) -> ColumnElement[bool]:
    if found.view == "span" and found.entity == "type":  # stored as the client sent it
        return _sp.span_type.in_([found.value, json.dumps(found.value)])
    if found.view == "span":
        return _SPAN_COLUMNS[found.entity] == found.value
    if found.view == "assessment":
        return _ASSESSMENT_COLUMNS[found.entity] == found.value
    if found.entity == "status":
        return _tr.state == found.value
    assert found.key is not None  # the grammar requires it for tags and metadata
    if found.entity == "tag":
        return _pair(t.trace_tags, found.key, found.value)
    made = _pair(t.trace_metadata, found.key, found.value)
    if found.key != SOURCE_RUN_METADATA:
        return made
    # Made in the run, or linked to it afterwards (as trace search reads it).
    linked = exists().where(t.trace_run_links.c.trace_pk == _tr.pk, t.trace_run_links.c.run_id == found.value)
    return or_(made, linked)


class _Inner:
    """The inner query of one metric query: FROM, WHERE, and its group and value columns."""

    def __init__(self, query: MetricQuery, postgres: bool) -> None:
        self.query = query
        self.json = _Json(postgres)
        self.joins: list[tuple[Any, Any]] = []
        self.where: list[Any] = []

    def _joined(self, table: Any, key: str) -> Any:
        """A tag or metadata value of the trace, by key (inner join: traces without it drop)."""
        alias = table.alias(f"k{len(self.joins)}")
        self.joins.append((alias, and_(alias.c.trace_pk == _tr.pk, alias.c.key == key)))
        return alias.c.value

    def value(self) -> Any:
        q, spans_attrs = self.query, _sp.attributes
        match q.view, q.metric:
            case "TRACES", "trace_count":
                return _tr.trace_id
            case "TRACES", "session_count":
                return self._joined(t.trace_metadata, _SESSION_METADATA)
            case "TRACES", "latency":
                return _tr.execution_duration
            case "TRACES", _:  # a token count, decoded by the service
                return self._joined(t.trace_metadata, _TOKEN_USAGE_METADATA)
            case "SPANS", "span_count":
                return _sp.span_id
            case "SPANS", "latency":
                return (_sp.end_time_ns - _sp.start_time_ns) // _NS_PER_MS
            case "SPANS", _:  # a cost, decoded by the service
                return self.json.raw(spans_attrs, [_COST])
            case _, "assessment_count":
                return _as.assessment_id
            case _:
                return self.json.assessment_number(_as.value)

    def dimension(self, name: str) -> Any:
        if name == "trace_name":
            return self._joined(t.trace_tags, TRACE_NAME_TAG)
        plain = {
            "trace_status": _tr.state,
            "span_name": _sp.name,
            "span_type": _unquoted(_sp.span_type),
            "span_status": _sp.status_code,
            "assessment_name": _as.name,
        }
        if name in plain:
            return plain[name]
        if name == "assessment_value":
            return self.json.text(_as.value, "value")
        return self.json.string(_sp.attributes, [_MODEL if name == "span_model_name" else _PROVIDER])

    def bucket(self, interval_seconds: int) -> Any:
        width_ms = interval_seconds * 1000
        if self.query.view == "SPANS":  # a span falls in the bucket of its own start
            return _sp.start_time_ns // (width_ms * _NS_PER_MS) * width_ms
        return _tr.request_time // width_ms * width_ms

    def time_range(self) -> None:
        q = self.query
        if q.view == "SPANS" and q.metric.endswith("_cost"):
            # Span costs are placed by the span's start, nanoseconds (MLflow's rule), the end
            # millisecond included whole.
            if q.start_ms is not None:
                self.where.append(_sp.start_time_ns >= q.start_ms * _NS_PER_MS)
            if q.end_ms is not None:
                self.where.append(_sp.start_time_ns < (q.end_ms + 1) * _NS_PER_MS)
            return
        if q.start_ms is not None:
            self.where.append(_tr.request_time >= q.start_ms)
        if q.end_ms is not None:
            self.where.append(_tr.request_time <= q.end_ms)

    def select(self, experiment_ids: Sequence[str]) -> Select[Any]:
        q = self.query
        value = self.value()
        groups = [self.bucket(q.interval_seconds)] if q.interval_seconds else []
        groups += [self.dimension(name) for name in q.dimensions]
        self.time_range()
        if q.view == "SPANS":
            source: Any = t.trace_spans.join(t.traces, _tr.pk == _sp.trace_pk)
        elif q.view == "ASSESSMENTS":
            source = t.trace_assessments.join(t.traces, _tr.pk == _as.trace_pk)
            self.where.append(_as.valid == true())  # an overridden assessment counts no more
        else:
            source = t.traces
        for alias, on in self.joins:
            source = source.join(alias, on)
        columns = [g.label(f"g{i}") for i, g in enumerate(groups)] + [value.label("v")]
        return (
            select(*columns)
            .select_from(source)
            .where(
                _tr.experiment_id.in_([int(e) for e in experiment_ids]),
                *self.where,
                *(_condition(f) for f in q.filters),
                value.is_not(None),
                *(g.is_not(None) for g in groups),
            )
        )


def _aggregate(kind: str, column: Any, session_count: bool) -> Any:
    if session_count:
        return func.count(distinct(column))
    function: Any = {"COUNT": func.count, "SUM": func.sum, "AVG": func.avg, "MIN": func.min, "MAX": func.max}
    return function[kind](column)


class SqlTraceMetricsRepository(TraceMetricsRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _inner(self, query: MetricQuery, experiment_ids: Sequence[str]) -> Select[Any]:
        return _Inner(query, self.conn.dialect.name == "postgresql").select(experiment_ids)

    def grouped(
        self, query: MetricQuery, experiment_ids: Sequence[str], offset: int, limit: int
    ) -> list[tuple[Group, dict[str, Any]]]:
        inner = self._inner(query, experiment_ids).subquery("m")
        groups = [inner.c[f"g{i}"] for i in range(len(query.grouping))]
        sessions = query.view == "TRACES" and query.metric == "session_count"
        aggregates = [
            _aggregate(a.kind, inner.c.v, sessions).label(f"a{i}") for i, a in enumerate(query.aggregations)
        ]
        outer = select(*groups, *aggregates).select_from(inner)
        if groups:
            outer = outer.group_by(*groups).order_by(*groups)
        rows = self.conn.execute(outer.offset(offset).limit(limit))
        width = len(groups)
        return [
            (tuple(row[:width]), {a.label: row[width + i] for i, a in enumerate(query.aggregations)})
            for row in rows
        ]

    def values(self, query: MetricQuery, experiment_ids: Sequence[str]) -> Iterable[tuple[Group, Any]]:
        width = len(query.grouping)
        for row in self.conn.execute(self._inner(query, experiment_ids)):
            yield tuple(row[:width]), row[width]
