"""MLflow's trace-search grammar: what ``mlflow.search_traces`` sends parses to clauses the
store compiles; anything else is refused with a message that names the problem."""

from __future__ import annotations

import pytest

from shipyard.domain.trace_filters import TraceClause, TraceOrder, parse_trace_filter, parse_trace_order_by
from shipyard.errors import InvalidFilter


def test_the_forms_mlflow_sends_parse() -> None:
    text = (
        "trace.timestamp_ms > 1700000000000 AND attributes.execution_time <= 250"
        " AND status = 'OK' AND tags.env LIKE 'pr%' AND metadata.`mlflow.sourceRun` = 'abc'"
        " AND request_metadata.user ILIKE '%BOB%' AND trace.name = \"chat\" AND span.type = 'LLM'"
        " AND tags.reviewed IS NULL AND trace.request_id IN ('tr-1', 'tr-2')"
    )
    assert parse_trace_filter(text) == [
        TraceClause("attribute", "timestamp_ms", ">", 1700000000000.0),
        TraceClause("attribute", "execution_time_ms", "<=", 250.0),
        TraceClause("attribute", "status", "=", "OK"),
        TraceClause("tag", "env", "LIKE", "pr%"),
        TraceClause("metadata", "mlflow.sourceRun", "=", "abc"),
        TraceClause("metadata", "user", "ILIKE", "%BOB%"),
        TraceClause("attribute", "name", "=", "chat"),
        TraceClause("span", "type", "=", "LLM"),
        TraceClause("tag", "reviewed", "IS NULL", None),
        TraceClause("attribute", "request_id", "IN", ("tr-1", "tr-2")),
    ]


def test_run_id_and_state_aliases() -> None:
    assert parse_trace_filter("attribute.run_id = 'r1' AND trace.state != 'ERROR'") == [
        TraceClause("run", "run_id", "=", "r1"),
        TraceClause("attribute", "status", "!=", "ERROR"),
    ]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("trace.color = 'red'", "unknown trace attribute 'color'"),
        ("tags.env = prod", "quoted string"),
        ("trace.timestamp_ms > 'soon'", "compares with a number"),
        ("trace.timestamp_ms LIKE 5", "compares with a number"),
        ("tags.a = 'x' OR tags.b = 'y'", "OR is not supported"),
        ("tags.a = 'x' tags.b = 'y'", "expected AND"),
        ("feedback.relevance = 'yes'", "not supported by this server yet"),
        ("trace.text ILIKE '%x%'", "not supported by this server yet"),
        ("bogus.key = 'x'", "unknown entity 'bogus'"),
        ("span.kind = 'x'", "spans filter on name, type, status"),
        ("trace.status IS NULL", "IS NULL applies to tags and metadata"),
        ("tags.env IN ('a')", "IN applies to"),
        ("trace.timestamp_ms > 1e30", "out of range"),
        ("tags.env =", "ends early"),
        ("trace.status = 'OK' AND", "ends early"),
        ("tags.env RLIKE 'x'", "comparison operator"),
    ],
)
def test_bad_filters_say_what_is_wrong(text: str, words: str) -> None:
    with pytest.raises(InvalidFilter) as caught:
        parse_trace_filter(text)
    assert words in caught.value.message, caught.value.message


def test_blank_is_no_filter_and_long_is_refused() -> None:
    assert parse_trace_filter(None) == [] and parse_trace_filter("  ") == []
    with pytest.raises(InvalidFilter, match="10,000"):
        parse_trace_filter("tags.a = '" + "x" * 10_000 + "'")
    with pytest.raises(InvalidFilter, match="at most 40"):
        parse_trace_filter(" AND ".join(["tags.a = 'x'"] * 41))


def test_order_by() -> None:
    assert parse_trace_order_by(
        ["timestamp_ms DESC", "trace.execution_time ASC", "name", "experiment_id"]
    ) == [
        TraceOrder("timestamp_ms", ascending=False),
        TraceOrder("execution_time_ms", ascending=True),
        TraceOrder("name", ascending=True),
        TraceOrder("experiment_id", ascending=True),
    ]
    with pytest.raises(InvalidFilter, match="cannot order traces by"):
        parse_trace_order_by(["tags.env"])
    with pytest.raises(InvalidFilter, match="cannot parse order_by"):
        parse_trace_order_by(["timestamp_ms, name"])
