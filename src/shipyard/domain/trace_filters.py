"""MLflow's trace-search grammar: ``trace.status = 'OK' AND tags.env = 'prod'``.

What ``mlflow.search_traces`` sends (``SearchTraceUtils`` in MLflow): clauses joined with
AND over

- attributes (``attributes.``, ``attribute.``, ``trace.`` or bare): ``timestamp_ms``,
  ``execution_time_ms``, ``end_time_ms`` (numbers; ``timestamp``, ``execution_time`` and
  ``end_time`` are aliases), ``status`` (or ``state``), ``request_id`` (or ``trace_id``),
  ``client_request_id``, ``name`` (the ``mlflow.traceName`` tag) and ``run_id`` (the run
  that made the trace, or one it was linked to);
- ``tags.<key>`` and ``metadata.<key>`` (or ``request_metadata.<key>``);
- ``span.name``, ``span.type``, ``span.status``: some span of the trace matches.

Feedback, expectation and full-text (``text``) clauses are refused with a message saying
so. Tokenising is the run grammar's (``domain.filters``); only the vocabulary differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shipyard.domain.filters import (
    MAX_CLAUSES,
    MAX_ORDER_BY,
    _Parser,
    _tokenize,
    _unquote_key,
    _unquote_string,
)
from shipyard.errors import InvalidFilter

__all__ = ["TraceClause", "TraceOrder", "parse_trace_filter", "parse_trace_order_by"]

Kind = Literal["attribute", "tag", "metadata", "span", "run"]

_KINDS: dict[str, Kind] = {
    "attribute": "attribute",
    "attributes": "attribute",
    "trace": "attribute",
    "tag": "tag",
    "tags": "tag",
    "metadata": "metadata",
    "request_metadata": "metadata",
    "span": "span",
}
_UNSUPPORTED = {"feedback", "expectation", "assessment", "issue", "prompt"}
# attribute → (its canonical name, "number" or "string")
_ATTRIBUTES: dict[str, tuple[str, str]] = {
    "timestamp_ms": ("timestamp_ms", "number"),
    "timestamp": ("timestamp_ms", "number"),
    "execution_time_ms": ("execution_time_ms", "number"),
    "execution_time": ("execution_time_ms", "number"),
    "end_time_ms": ("end_time_ms", "number"),
    "end_time": ("end_time_ms", "number"),
    "status": ("status", "string"),
    "state": ("status", "string"),
    "request_id": ("request_id", "string"),
    "trace_id": ("request_id", "string"),
    "client_request_id": ("client_request_id", "string"),
    "name": ("name", "string"),
    "run_id": ("run_id", "string"),
}
_ORDER_ATTRIBUTES = {"timestamp_ms", "execution_time_ms", "end_time_ms", "status", "request_id", "name"}
_SPAN_KEYS = ("name", "type", "status")
_NUMBER_OPS = {"=", "!=", "<", "<=", ">", ">="}
_STRING_OPS = {"=", "!=", "LIKE", "ILIKE"}
_LIST_OPS = {"IN", "NOT IN"}
_NULL_OPS = {"IS NULL", "IS NOT NULL"}
_IN_ATTRIBUTES = {"status", "request_id", "client_request_id", "name", "run_id"}


@dataclass(frozen=True, slots=True)
class TraceClause:
    kind: Kind
    key: str
    op: str
    value: float | str | tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class TraceOrder:
    key: str  # an attribute of _ORDER_ATTRIBUTES, or "experiment_id"
    ascending: bool


def _identify(kind: str, text: str) -> tuple[Kind, str]:
    if kind == "word":
        prefix, key = "attribute", text
    elif kind == "ident":
        prefix, raw = text.split("\0", 1)
        key = _unquote_key(raw)
    else:
        raise InvalidFilter(f"expected e.g. trace.status, tags.<key> or metadata.<key>, found {text!r}")
    lowered = prefix.lower()
    if lowered in _UNSUPPORTED or (lowered in _KINDS and _KINDS[lowered] == "attribute" and key == "text"):
        raise InvalidFilter(
            f"searching traces by {prefix}.{key} is not supported by this server yet;"
            " filter on trace attributes, tags.<key>, metadata.<key> or span.name/type/status"
        )
    found = _KINDS.get(lowered)
    if found is None:
        raise InvalidFilter(
            f"unknown entity {prefix!r} in a trace filter; use trace., tags., metadata. or span."
        )
    if not key:
        raise InvalidFilter(f"empty key after {prefix!r}")
    if found == "attribute":
        if key not in _ATTRIBUTES:
            raise InvalidFilter(f"unknown trace attribute {key!r}; known: {', '.join(sorted(_ATTRIBUTES))}")
        canonical = _ATTRIBUTES[key][0]
        return ("run", canonical) if canonical == "run_id" else ("attribute", canonical)
    if found == "span" and key not in _SPAN_KEYS:
        raise InvalidFilter(f"spans filter on {', '.join(_SPAN_KEYS)}; got span.{key}")
    return found, key


def _clause(parser: _Parser) -> TraceClause:
    kind, key = _identify(*parser.take("e.g. trace.status or tags.<key>"))
    op = parser.operator()
    numeric = kind == "attribute" and _ATTRIBUTES[key][1] == "number"
    where = f"{kind}.{key}" if kind != "run" else "run_id"
    if op in _NULL_OPS:
        if kind not in ("tag", "metadata"):
            raise InvalidFilter(f"{op} applies to tags and metadata, not to {where}")
        return TraceClause(kind, key, op, None)
    if op in _LIST_OPS:
        if not ((kind == "attribute" and key in _IN_ATTRIBUTES) or kind in ("run", "span")):
            raise InvalidFilter(
                f"{op} applies to trace status, request_id, client_request_id, name and run_id"
            )
        return TraceClause(kind, key, op, parser.string_list())
    value_kind, text = parser.take("a value")
    if numeric:
        if value_kind != "number" or op not in _NUMBER_OPS:
            raise InvalidFilter(f"{where} compares with a number using = != < <= > >=; got {op} {text}")
        number = float(text)
        if not abs(number) < 2**63:
            raise InvalidFilter(f"{where} is in milliseconds; {text} is out of range")
        return TraceClause(kind, key, op, number)
    if value_kind != "string":
        raise InvalidFilter(f"{where} compares with a quoted string, found {text!r}")
    if op not in _STRING_OPS:
        raise InvalidFilter(f"{where} compares with = != LIKE ILIKE (or IN); {op} does not apply")
    value = _unquote_string(text)
    if kind == "run" and op not in ("=", "!="):
        raise InvalidFilter("run_id compares with = or IN")
    return TraceClause(kind, key, op, value)


def parse_trace_filter(text: str | None) -> list[TraceClause]:
    """Parse a trace filter into clauses (empty for ``None`` or blank)."""
    if text is None or not text.strip():
        return []
    if len(text) > 10_000:
        raise InvalidFilter("filter is longer than 10,000 characters")
    parser = _Parser(_tokenize(text))
    out = [_clause(parser)]
    while (token := parser.peek()) is not None:
        if token[0] == "word" and token[1].upper() == "AND":
            parser.i += 1
            out.append(_clause(parser))
        elif token[0] == "word" and token[1].upper() == "OR":
            raise InvalidFilter("OR is not supported; join clauses with AND")
        else:
            raise InvalidFilter(f"expected AND between clauses, found {token[1]!r}")
    if len(out) > MAX_CLAUSES:
        raise InvalidFilter(f"a filter joins at most {MAX_CLAUSES} clauses with AND; got {len(out)}")
    return out


def parse_trace_order_by(items: list[str] | None) -> list[TraceOrder]:
    """Parse ``["timestamp_ms DESC", "trace.execution_time_ms"]``; MLflow's default order
    (newest first) applies when empty."""
    if len(items or []) > MAX_ORDER_BY:
        raise InvalidFilter(f"order_by takes at most {MAX_ORDER_BY} terms; got {len(items or [])}")
    out: list[TraceOrder] = []
    for item in items or []:
        text, ascending = item.strip(), True
        upper = text.upper()
        if upper.endswith(" DESC"):
            text, ascending = text[:-5].strip(), False
        elif upper.endswith(" ASC"):
            text = text[:-4].strip()
        tokens = _tokenize(text)
        if len(tokens) != 1 or tokens[0][0] not in ("word", "ident"):
            raise InvalidFilter(f"cannot parse order_by {item!r}; expected e.g. 'timestamp_ms DESC'")
        if tokens[0] == ("word", "experiment_id"):
            out.append(TraceOrder("experiment_id", ascending))
            continue
        kind, key = _identify(*tokens[0])
        if kind != "attribute" or key not in _ORDER_ATTRIBUTES:
            raise InvalidFilter(
                f"cannot order traces by {item!r}; use {', '.join(sorted(_ORDER_ATTRIBUTES))}"
                " or experiment_id"
            )
        out.append(TraceOrder(key, ascending))
    return out
