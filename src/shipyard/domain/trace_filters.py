"""MLflow's trace-search grammar: ``trace.status = 'OK' AND feedback.correct = 'yes'``.

What ``mlflow.search_traces`` sends (``SearchTraceUtils`` in MLflow 3.17 and its SQL
store's ``_get_filter_clauses_for_search_traces``): clauses joined with AND over

- attributes (``attributes.``, ``attribute.``, ``trace.`` or bare): ``timestamp_ms``,
  ``execution_time_ms``, ``end_time_ms`` (numbers; ``timestamp``, ``execution_time`` and
  ``end_time`` are aliases), ``status`` (or ``state``), ``request_id`` (or ``trace_id``),
  ``client_request_id``, ``name`` (the ``mlflow.traceName`` tag), ``run_id`` (the run
  that made the trace, or one it was linked to), ``prompt`` (``prompt = 'name/version'``:
  a prompt version linked to the trace) and ``text`` (``trace.text LIKE '%word%'``: the
  full text of some span, MLflow's ``span.content``);
- ``tags.<key>`` and ``metadata.<key>`` (or ``request_metadata.<key>``);
- ``span.name``, ``span.type``, ``span.status``, ``span.attributes.<key>`` and
  ``span.content``: some span of the trace matches;
- ``feedback.<name>`` and ``expectation.<name>``: some valid assessment of that name has a
  value that compares (strings, numbers with < <= > >=, IS NULL / IS NOT NULL).

String comparisons take ``RLIKE`` (a regular expression, searched anywhere in the value)
where MLflow's do. SQLite runs them with Python's ``re``, PostgreSQL with ``~``. Python's
engine backtracks with no time limit, so patterns are checked here (:func:`check_regex`): at
most :data:`MAX_REGEX_LENGTH` characters, valid for ``re``, no quantified group that holds an
unbounded quantifier itself (``(a+)+``, ``(x*)*``, ``(ab+){2,}``: exponential time), and a
leading or trailing ``.*`` is dropped (no answer changes; a leading one costs a pass over the
value per start position). What remains is polynomial: two unbounded repeats over the same
characters (``\\w*\\w*z``) can still take seconds over a value of thousands of characters on
SQLite (MLflow's SQLite store runs any pattern unchecked); tags hold at most 8,000 characters
and inline span payloads 64 KB.

Refused with a message saying so: ``issue.<key>`` (this server keeps no issue references
on traces), ``assessment.<key>`` (MLflow has no such entity either) and OR. Tokenising is
the run grammar's (``domain.filters``); only the vocabulary differs.
"""

from __future__ import annotations

import re
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
from shipyard.domain.traces import SOURCE_RUN_METADATA
from shipyard.errors import InvalidFilter

__all__ = [
    "MAX_REGEX_LENGTH",
    "TraceClause",
    "TraceOrder",
    "check_regex",
    "parse_trace_filter",
    "parse_trace_order_by",
]

Kind = Literal[
    "attribute",
    "tag",
    "metadata",
    "span",
    "span_attribute",
    "content",
    "run",
    "prompt",
    "feedback",
    "expectation",
]

_KINDS: dict[str, Kind] = {
    "attribute": "attribute",
    "attributes": "attribute",
    "trace": "attribute",
    "tag": "tag",
    "tags": "tag",
    "metadata": "metadata",
    "request_metadata": "metadata",
    "span": "span",
    "feedback": "feedback",
    "expectation": "expectation",
}
_REFUSED = {
    "issue": "this server keeps no issue references on traces",
    "assessment": "name the kind: feedback.<name> or expectation.<name>",
}
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
    "prompt": ("prompt", "string"),
    "text": ("text", "string"),
}
_ORDER_ATTRIBUTES = {"timestamp_ms", "execution_time_ms", "end_time_ms", "status", "request_id", "name"}
_SPAN_KEYS = ("name", "type", "status", "content", "attributes.<key>")
_SPAN_ATTRIBUTE = "attributes."
_NUMBER_OPS = {"=", "!=", "<", "<=", ">", ">="}
_STRING_OPS = {"=", "!=", "LIKE", "ILIKE", "RLIKE"}
_PATTERN_OPS = {"LIKE", "ILIKE"}
_LIST_OPS = {"IN", "NOT IN"}
_NULL_OPS = {"IS NULL", "IS NOT NULL"}
_IN_ATTRIBUTES = {"status", "request_id", "client_request_id", "name", "run_id"}
_ASSESSMENT_OPS = _NUMBER_OPS | _STRING_OPS | _NULL_OPS

MAX_REGEX_LENGTH = 1000


@dataclass(frozen=True, slots=True)
class TraceClause:
    """One condition. ``kind`` says where it looks: ``attribute`` (a trace column, ``key``
    canonical), ``tag``/``metadata`` (``key`` is the tag's), ``span`` (a span column),
    ``span_attribute`` (``key`` is the attribute's), ``content`` (a span's full text),
    ``run``, ``prompt`` (``value`` is ``name/version``), ``feedback``/``expectation``
    (``key`` is the assessment's name; ``value`` a string or a number)."""

    kind: Kind
    key: str
    op: str
    value: float | str | tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class TraceOrder:
    """An ordering term: an attribute of ``_ORDER_ATTRIBUTES`` or ``experiment_id`` (kind
    ``attribute``), or a tag's or metadata key's value (kind ``tag``/``metadata``; traces
    without it come last either way, as in MLflow)."""

    key: str
    ascending: bool
    kind: Literal["attribute", "tag", "metadata"] = "attribute"


# A group that holds an unbounded quantifier ('+', '*', '{n,}') and is quantified itself
# (by anything but '?' or '{0,1}'): (a+)+, (a|b*)*, (x+){2,} — exponential backtracking.
def check_regex(pattern: str) -> str:
    """The pattern to run for an RLIKE ``pattern`` (without a leading or trailing ``.*``,
    which change nothing in a search and make Python's engine try every split of the value),
    or :class:`InvalidFilter` when it is too long, invalid or shaped for exponential time."""
    if len(pattern) > MAX_REGEX_LENGTH:
        raise InvalidFilter(f"an RLIKE pattern is at most {MAX_REGEX_LENGTH} characters; got {len(pattern)}")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise InvalidFilter(
            f"RLIKE pattern {pattern[:80]!r} is not a valid regular expression: {exc}"
        ) from None
    if _nested_quantifier(pattern):
        raise InvalidFilter(
            f"RLIKE pattern {pattern[:80]!r} repeats a group that repeats itself (such as (a+)+):"
            " it can take exponential time; write it without the nested repetition"
        )
    return _without_idle_ends(pattern)


def _without_idle_ends(pattern: str) -> str:
    """``pattern`` less a ``.*`` (or ``.*?``) it starts or ends with: ``.*`` matches the empty
    string, so a search finds a match with it exactly when it finds one without."""
    while True:
        trimmed = pattern
        for idle in (".*?", ".*"):
            if trimmed.startswith(idle):
                trimmed = trimmed[len(idle) :]
                break
        for idle in (".*?", ".*"):
            head = trimmed[: -len(idle)]
            escapes = len(head) - len(head.rstrip("\\"))
            if trimmed.endswith(idle) and escapes % 2 == 0:
                trimmed = head
                break
        if trimmed == pattern:
            return pattern
        try:
            re.compile(trimmed)
        except re.error:  # e.g. ".*{2}x": what is left means something else
            return pattern
        pattern = trimmed


_UNBOUNDED = re.compile(r"[*+]|\{\d*,\}")
_REPEATS = re.compile(r"[*+]|\{\d*,\d*\}|\{\d+\}")


def _nested_quantifier(pattern: str) -> bool:
    """Whether a quantified group of ``pattern`` (valid for ``re``) holds an unbounded one."""
    groups: list[bool] = []  # per open group: does it hold an unbounded quantifier?
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":  # a character class: skip to its end (']' first in it is literal)
            i += 2 if pattern[i + 1 : i + 2] == "^" else 1
            i += 1 if pattern[i : i + 1] == "]" else 0
            while i < n and pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
            i += 1
            continue
        if ch == "(":
            groups.append(False)
        elif ch == ")":
            inner = groups.pop() if groups else False
            repeat = _REPEATS.match(pattern, i + 1)
            if inner and repeat and repeat.group() not in ("{0,1}", "{1}", "{1,1}"):
                return True
            if groups and inner:
                groups[-1] = True
            if repeat and groups and _UNBOUNDED.fullmatch(repeat.group()):
                groups[-1] = True
            i += 1
            continue
        elif _UNBOUNDED.match(pattern, i) and groups:
            groups[-1] = True
        i += 1
    return False


def _identify(kind: str, text: str) -> tuple[Kind, str]:
    if kind == "word":
        prefix, key = "attribute", text
    elif kind == "ident":
        prefix, raw = text.split("\0", 1)
        key = _unquote_key(raw)
    else:
        raise InvalidFilter(f"expected e.g. trace.status, tags.<key> or metadata.<key>, found {text!r}")
    lowered = prefix.lower()
    if lowered in _REFUSED:
        raise InvalidFilter(f"searching traces by {prefix}.{key} is not supported: {_REFUSED[lowered]}")
    found = _KINDS.get(lowered)
    if found is None:
        raise InvalidFilter(
            f"unknown entity {prefix!r} in a trace filter; use trace., tags., metadata., span.,"
            " feedback. or expectation."
        )
    if not key:
        raise InvalidFilter(f"empty key after {prefix!r}")
    if found == "attribute":
        if key not in _ATTRIBUTES:
            raise InvalidFilter(f"unknown trace attribute {key!r}; known: {', '.join(sorted(_ATTRIBUTES))}")
        canonical = _ATTRIBUTES[key][0]
        special: dict[str, Kind] = {"run_id": "run", "prompt": "prompt", "text": "content"}
        return (special[canonical], canonical) if canonical in special else ("attribute", canonical)
    if found == "span":
        return _span_key(key)
    return found, key


def _span_key(key: str) -> tuple[Kind, str]:
    if key == "content":
        return "content", key
    if key.startswith(_SPAN_ATTRIBUTE):
        name = _unquote_key(key[len(_SPAN_ATTRIBUTE) :])
        if not name:
            raise InvalidFilter("Span attribute name cannot be empty after 'attributes.'")
        if '"' in name or len(name) > 250:
            raise InvalidFilter("a span attribute name is at most 250 characters, without '\"'")
        return "span_attribute", name
    if key not in _SPAN_KEYS:
        raise InvalidFilter(f"spans filter on {', '.join(_SPAN_KEYS)}; got span.{key}")
    return "span", key


def _operator(parser: _Parser) -> str:
    token = parser.peek()
    if token is not None and token[0] == "word" and token[1].upper() == "RLIKE":
        parser.i += 1
        return "RLIKE"
    return parser.operator()


def _where(kind: Kind, key: str) -> str:
    return {
        "run": "run_id",
        "prompt": "prompt",
        "content": "span content",
        "span_attribute": f"span.attributes.{key}",
    }.get(kind, f"{kind}.{key}")


def _assessment_clause(kind: Kind, key: str, op: str, parser: _Parser) -> TraceClause:
    where = _where(kind, key)
    if op not in _ASSESSMENT_OPS:
        raise InvalidFilter(
            f"{where} compares with {', '.join(sorted(_ASSESSMENT_OPS))}; {op} does not apply"
        )
    if op in _NULL_OPS:
        return TraceClause(kind, key, op, None)
    value_kind, text = parser.take("a value")
    if value_kind == "number":
        if op not in _NUMBER_OPS:
            raise InvalidFilter(f"{where} {op} takes a quoted string, found {text}")
        return TraceClause(kind, key, op, float(text))
    if value_kind != "string":
        raise InvalidFilter(f"{where} compares with a quoted string or a number, found {text!r}")
    value = _unquote_string(text)
    if op in ("<", "<=", ">", ">="):
        try:
            return TraceClause(kind, key, op, float(value))
        except ValueError:
            raise InvalidFilter(f"{where} {op} compares numbers; {value[:40]!r} is not one") from None
    return TraceClause(kind, key, op, check_regex(value) if op == "RLIKE" else value)


def _list_clause(kind: Kind, key: str, op: str, parser: _Parser) -> TraceClause:
    if not ((kind == "attribute" and key in _IN_ATTRIBUTES) or kind in ("run", "span", "span_attribute")):
        raise InvalidFilter(
            f"{op} applies to trace status, request_id, client_request_id, name and run_id,"
            " and to span.name/type/status/attributes.<key>"
        )
    return TraceClause(kind, key, op, parser.string_list())


def _clause(parser: _Parser) -> TraceClause:
    kind, key = _identify(*parser.take("e.g. trace.status or tags.<key>"))
    op = _operator(parser)
    where = _where(kind, key)
    if kind in ("feedback", "expectation"):
        return _assessment_clause(kind, key, op, parser)
    if op in _NULL_OPS:
        if kind not in ("tag", "metadata") and not (kind == "attribute" and key == "name"):
            raise InvalidFilter(f"{op} applies to tags, metadata, feedback and expectations, not to {where}")
        return TraceClause(kind, key, op, None)
    if op in _LIST_OPS:
        return _list_clause(kind, key, op, parser)
    value_kind, text = parser.take("a value")
    if kind == "attribute" and _ATTRIBUTES[key][1] == "number":
        if value_kind != "number" or op not in _NUMBER_OPS:
            raise InvalidFilter(f"{where} compares with a number using = != < <= > >=; got {op} {text}")
        number = float(text)
        if not abs(number) < 2**63:
            raise InvalidFilter(f"{where} is in milliseconds; {text} is out of range")
        return TraceClause(kind, key, op, number)
    if value_kind != "string":
        raise InvalidFilter(f"{where} compares with a quoted string, found {text!r}")
    if op not in _STRING_OPS:
        raise InvalidFilter(f"{where} compares with = != LIKE ILIKE RLIKE (or IN); {op} does not apply")
    return _checked(kind, key, op, _unquote_string(text))


def _checked(kind: Kind, key: str, op: str, value: str) -> TraceClause:
    where = _where(kind, key)
    if kind == "run" and op not in ("=", "!="):
        # A pattern reads the run that made the trace (its metadata), as MLflow's does.
        return TraceClause(
            "metadata", SOURCE_RUN_METADATA, op, check_regex(value) if op == "RLIKE" else value
        )
    if kind == "content" and op not in _PATTERN_OPS:
        raise InvalidFilter(f"{where} compares with LIKE or ILIKE (e.g. trace.text LIKE '%word%'); got {op}")
    if kind == "prompt":
        if op != "=":
            raise InvalidFilter(
                f"Invalid comparator '{op}' for prompts filter. Only '=' is supported with"
                ' format: prompt = "name/version"'
            )
        name, _, version = value.partition("/")
        if value.count("/") != 1 or not name or not version:
            raise InvalidFilter(
                f"Invalid prompts filter value '{value[:200]}'. Expected format: prompt = \"name/version\""
            )
    return TraceClause(kind, key, op, check_regex(value) if op == "RLIKE" else value)


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
    """Parse ``["timestamp_ms DESC", "tags.env", "run_id"]``; MLflow's default order (newest
    first) applies when empty."""
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
        term = _order_term(item, tokens[0], ascending)
        if any((o.kind, o.key) == (term.kind, term.key) for o in out):
            raise InvalidFilter(f"`order_by` contains duplicate fields: {items}")
        out.append(term)
    return out


def _order_term(item: str, token: tuple[str, str], ascending: bool) -> TraceOrder:
    if token == ("word", "experiment_id"):
        return TraceOrder("experiment_id", ascending)
    kind, key = _identify(*token)
    if kind in ("tag", "metadata"):
        return TraceOrder(key, ascending, kind)
    if kind == "run":  # the run that made the trace (MLflow orders by the metadata only)
        return TraceOrder(SOURCE_RUN_METADATA, ascending, "metadata")
    if kind != "attribute" or key not in _ORDER_ATTRIBUTES:
        raise InvalidFilter(
            f"cannot order traces by {item!r}; use {', '.join(sorted(_ORDER_ATTRIBUTES))},"
            " experiment_id, run_id, tags.<key> or metadata.<key>"
        )
    return TraceOrder(key, ascending)
