"""A trace filter's clauses (``domain/trace_filters.py``) compiled to SQL conditions on
``traces``, for search, counts and correlations (``stores/sql/traces.py``).

Each clause is one condition on the trace row: a column compared, or ``EXISTS`` over its
tags, metadata, spans or assessments. JSON values (span attributes, assessment values) are
read with each dialect's JSON functions: SQLite's ``json_type``/``json_extract``/``->``,
PostgreSQL's ``jsonb`` operators. RLIKE is PostgreSQL's ``~`` and, on SQLite, a ``regexp``
function registered on the connection when a search needs it (:func:`allow_regexp`).
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    Text,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    literal_column,
    not_,
    or_,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DBAPIError

from shipyard.domain.trace_filters import TraceClause
from shipyard.domain.traces import (
    INPUTS_ATTRIBUTE,
    LINKED_PROMPTS_TAG,
    OUTPUTS_ATTRIBUTE,
    SESSION_METADATA,
    SOURCE_RUN_METADATA,
    TRACE_NAME_TAG,
    linked_prompt_entry,
)
from shipyard.errors import InvalidFilter
from shipyard.stores.sql import schema_traces as t
from shipyard.stores.sql._compare import compare

__all__ = ["TRACE_COLUMNS", "allow_regexp", "bad_regex", "condition"]

TRACE_COLUMNS = {
    "timestamp_ms": t.traces.c.request_time,
    "execution_time_ms": t.traces.c.execution_duration,
    # A trace still in progress ends at its start, as in MLflow's store.
    "end_time_ms": t.traces.c.request_time + func.coalesce(t.traces.c.execution_duration, 0),
    "status": t.traces.c.state,
    "request_id": t.traces.c.trace_id,
    "client_request_id": t.traces.c.client_request_id,
}
_SPAN_COLUMNS = {
    "name": t.trace_spans.c.name,
    "type": t.trace_spans.c.span_type,
    "status": t.trace_spans.c.status_code,
}


def _compare(column: Any, op: str, value: Any, dialect: str) -> ColumnElement[bool]:
    """``compare`` plus RLIKE: ``~`` on PostgreSQL, the ``regexp`` function registered on the
    SQLite connection (:func:`allow_regexp`) there; the pattern was checked by the grammar."""
    if op == "RLIKE":
        matched: ColumnElement[bool] = column.op(
            "~" if dialect == "postgresql" else "REGEXP", is_comparison=True
        )(value)
        return matched
    return compare(column, op, value)


def _keyed(table: Any, key: str, op: str, value: Any, dialect: str) -> ColumnElement[bool]:
    """A tag or metadata clause: the trace has the key, with a value that compares."""
    row = and_(table.c.trace_pk == t.traces.c.pk, table.c.key == key)
    if op == "IS NULL":
        return not_(exists().where(row))
    if op == "IS NOT NULL":
        return exists().where(row)
    return exists().where(row, _compare(table.c.value, op, value, dialect))


def _run(op: str, value: Any) -> ColumnElement[bool]:
    """Made in the run (its ``mlflow.sourceRun`` metadata) or linked to it afterwards."""
    ids = list(value) if op in ("IN", "NOT IN") else [value]
    made = exists().where(
        t.trace_metadata.c.trace_pk == t.traces.c.pk,
        t.trace_metadata.c.key == SOURCE_RUN_METADATA,
        t.trace_metadata.c.value.in_(ids),
    )
    linked = exists().where(
        t.trace_run_links.c.trace_pk == t.traces.c.pk, t.trace_run_links.c.run_id.in_(ids)
    )
    either = or_(made, linked)
    return not_(either) if op in ("!=", "NOT IN") else either


def _json_text(column: Any, key: str | None, dialect: str) -> Any:
    """The value at ``key`` of a JSON object column (the whole value for None) as text: a
    string as itself, anything else as its JSON (``true``, ``3``, ``{"a":1}``; PostgreSQL
    spaces objects out, ``{"a": 1}``)."""
    if dialect == "postgresql":
        document = cast(column, JSONB)
        if key is None:
            return document.op("#>>", return_type=Text)(literal_column("'{}'"))
        return document.op("->>", return_type=Text)(literal(key, Text))
    path = "$" if key is None else '$."' + key + '"'  # the grammar refuses '"' in keys
    return case(
        (func.json_type(column, path) == "text", func.json_extract(column, path)),
        else_=column.op("->", return_type=Text)(path),
    )


def _json_number(column: Any, key: str, dialect: str) -> Any:
    """The value at ``key`` of a JSON object column when it is a number, else NULL."""
    if dialect == "postgresql":
        document = cast(column, JSONB)
        found = document.op("->", return_type=JSONB)(literal(key, Text))
        number = cast(document.op("->>", return_type=Text)(literal(key, Text)), Float)
        return case((func.jsonb_typeof(found) == "number", number))
    path = '$."' + key + '"'
    return case((func.json_type(column, path).in_(["integer", "real"]), func.json_extract(column, path)))


_SPAN_JSON_COLUMNS = {INPUTS_ATTRIBUTE: t.trace_spans.c.inputs, OUTPUTS_ATTRIBUTE: t.trace_spans.c.outputs}


def _span_attribute(key: str, op: str, value: Any, dialect: str) -> ColumnElement[bool]:
    """Some span has the attribute, with a value that compares (inputs and outputs are
    attributes too: ``mlflow.spanInputs``, ``mlflow.spanOutputs``)."""
    sp = t.trace_spans.c
    column = _SPAN_JSON_COLUMNS.get(key)
    text = (
        _json_text(column, None, dialect) if column is not None else _json_text(sp.attributes, key, dialect)
    )
    return exists().where(sp.trace_pk == t.traces.c.pk, _compare(text, op, value, dialect))


def _content(op: str, value: Any) -> ColumnElement[bool]:
    """Some span's full text (its name, status message, attributes, inputs, outputs and
    events, as stored) is LIKE the pattern: MLflow's ``span.content`` and ``trace.text``."""
    sp = t.trace_spans.c
    parts = [sp.name, sp.status_message, sp.attributes, sp.inputs, sp.outputs, sp.events]
    joined: Any = func.coalesce(parts[0], "")
    for part in parts[1:]:
        joined = joined + " " + func.coalesce(part, "")
    return exists().where(sp.trace_pk == t.traces.c.pk, compare(joined, op, value))


def _prompt(value: str) -> ColumnElement[bool]:
    """A prompt version (``name/version``) is among those the trace's ``mlflow.linkedPrompts``
    tag lists, in the JSON spelling MLflow's client and ``link_prompts`` write."""
    name, _, version = value.partition("/")
    entry = linked_prompt_entry(name, version)
    tags = t.trace_tags.c
    return exists().where(
        tags.trace_pk == t.traces.c.pk,
        tags.key == LINKED_PROMPTS_TAG,
        tags.value.contains(entry, autoescape=True),
    )


def _assessed(clause: TraceClause, dialect: str) -> ColumnElement[bool]:
    """Some valid assessment of that kind and name has a value that compares (MLflow's
    ``feedback.<name>`` and ``expectation.<name>``): one of the trace's own, or one made of
    its session (metadata ``mlflow.trace.session``) on another trace of that session in the
    same experiment, which speaks for every trace of the session."""
    own = _assessments_matching(t.trace_assessments, clause, dialect)
    a = t.trace_assessments.alias("session_assessment")
    mine, theirs = t.trace_metadata.alias("my_session"), t.trace_metadata.alias("their_session")
    sibling = t.traces.alias("session_trace")
    of_session = exists().where(
        mine.c.trace_pk == t.traces.c.pk,
        mine.c.key == SESSION_METADATA,
        theirs.c.key == SESSION_METADATA,
        theirs.c.value == mine.c.value,
        sibling.c.pk == theirs.c.trace_pk,
        sibling.c.experiment_id == t.traces.c.experiment_id,
        a.c.trace_pk == theirs.c.trace_pk,
        a.c.meta.contains(f'"{SESSION_METADATA}":', autoescape=True),
        _assessments_matching(a, clause, dialect, correlated=False),
    )
    if clause.op == "IS NULL":
        return not_(or_(own, of_session))
    return or_(own, of_session)


def _assessments_matching(
    table: Any, clause: TraceClause, dialect: str, *, correlated: bool = True
) -> ColumnElement[bool]:
    """``exists`` an assessment of ``table`` of the trace (``correlated``), or the condition
    on ``table``'s row alone, with the clause's kind, name and value (any value for IS NULL
    and IS NOT NULL, which the caller negates)."""
    a = table.c
    row = [a.kind == clause.kind, a.name == clause.key, a.valid.is_(True)]
    if clause.op not in ("IS NULL", "IS NOT NULL"):
        if isinstance(clause.value, float):
            row.append(compare(_json_number(a.value, "value", dialect), clause.op, clause.value))
        else:
            row.append(_compare(_json_text(a.value, "value", dialect), clause.op, clause.value, dialect))
    if not correlated:
        return and_(*row)
    return exists().where(a.trace_pk == t.traces.c.pk, *row)


def condition(clause: TraceClause, dialect: str) -> ColumnElement[bool]:
    kind, op, value = clause.kind, clause.op, clause.value
    if kind == "attribute" and clause.key == "name":
        return _keyed(t.trace_tags, TRACE_NAME_TAG, op, value, dialect)
    if kind == "attribute":
        return _compare(TRACE_COLUMNS[clause.key], op, value, dialect)
    if kind == "tag":
        return _keyed(t.trace_tags, clause.key, op, value, dialect)
    if kind == "metadata" and clause.key == SOURCE_RUN_METADATA and op in ("=", "!="):
        return _run(op, value)
    if kind == "metadata":
        return _keyed(t.trace_metadata, clause.key, op, value, dialect)
    if kind == "run":
        return _run(op, value)
    if kind == "prompt":
        return _prompt(str(value))
    if kind in ("feedback", "expectation"):
        return _assessed(clause, dialect)
    if kind == "span_attribute":
        return _span_attribute(clause.key, op, value, dialect)
    if kind == "content":
        return _content(op, value)
    return exists().where(
        t.trace_spans.c.trace_pk == t.traces.c.pk,
        _compare(_SPAN_COLUMNS[clause.key], op, value, dialect),
    )


_REGEX_CACHE = 64


@functools.lru_cache(maxsize=_REGEX_CACHE)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _regexp(pattern: str | None, value: Any) -> bool | None:
    """SQLite's ``value REGEXP pattern``: a search anywhere in the value, as PostgreSQL's ``~``."""
    if pattern is None or value is None:
        return None
    return _compiled(pattern).search(value if isinstance(value, str) else str(value)) is not None


def allow_regexp(conn: Connection, clauses: Sequence[TraceClause]) -> None:
    """Give this SQLite connection its ``regexp`` function when a clause uses RLIKE (SQLite
    has the operator but no function behind it). Patterns were checked by the grammar."""
    if conn.dialect.name == "sqlite" and any(c.op == "RLIKE" for c in clauses):
        driver = conn.connection.driver_connection
        assert driver is not None
        driver.create_function("regexp", 2, _regexp, deterministic=True)


@contextlib.contextmanager
def bad_regex() -> Iterator[None]:
    """PostgreSQL's regular expressions are not Python's: one it refuses is the caller's
    mistake (SQLSTATE 2201B), a 400, not a 500."""
    try:
        yield
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) == "2201B":
            why = str(exc.orig).strip()[:200]
            raise InvalidFilter(f"PostgreSQL refuses the RLIKE pattern: {why}") from None
        raise
