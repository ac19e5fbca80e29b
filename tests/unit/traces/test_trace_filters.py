"""MLflow's trace-search grammar: what ``mlflow.search_traces`` sends parses to clauses the
store compiles; anything else is refused with a message that names the problem."""

from __future__ import annotations

import pytest

from shipyard.domain.trace_filters import (
    MAX_REGEX_LENGTH,
    TraceClause,
    TraceOrder,
    check_regex,
    parse_trace_filter,
    parse_trace_order_by,
)
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
    # A pattern on run_id reads the run that made the trace (not runs it was linked to), as MLflow.
    assert parse_trace_filter("run_id LIKE 'ab%' AND run_id RLIKE '^ab.*'") == [
        TraceClause("metadata", "mlflow.sourceRun", "LIKE", "ab%"),
        TraceClause("metadata", "mlflow.sourceRun", "RLIKE", "^ab"),
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
        ("issue.id = 'x'", "keeps no issue references"),
        ("assessment.x = 'y'", "feedback.<name> or expectation.<name>"),
        ("trace.text = 'x'", "compares with LIKE or ILIKE"),
        ("span.content RLIKE 'x'", "compares with LIKE or ILIKE"),
        ("bogus.key = 'x'", "unknown entity 'bogus'"),
        ("span.kind = 'x'", "spans filter on name, type, status"),
        ("span.attributes. = 'x'", "cannot be empty"),
        ("trace.status IS NULL", "IS NULL applies to tags, metadata"),
        ("feedback.score > 'high'", "compares numbers"),
        ("feedback.score LIKE 5", "takes a quoted string"),
        ("feedback.score IN ('a')", "IN does not apply"),
        ("expectation.x = score", "quoted string or a number"),
        ("prompt = 'qa'", "Expected format: prompt"),
        ("prompt = 'a/b/c'", "Expected format: prompt"),
        ("prompt LIKE 'qa/%'", "Only '=' is supported"),
        ("tags.env RLIKE '('", "not a valid regular expression"),
        ("tags.env RLIKE '(a+)+$'", "exponential time"),
        ("span.attributes.model RLIKE '(x*)*'", "exponential time"),
        ("feedback.tone RLIKE '(ab+){2,}'", "exponential time"),
        ("trace.timestamp_ms RLIKE '1'", "compares with a number"),
        ("tags.env IN ('a')", "IN applies to"),
        ("trace.timestamp_ms > 1e30", "out of range"),
        ("tags.env =", "ends early"),
        ("trace.status = 'OK' AND", "ends early"),
        ("tags.env REGEXP 'x'", "comparison operator"),
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
    assert parse_trace_order_by(["tags.env DESC", "metadata.`user id`", "run_id"]) == [
        TraceOrder("env", ascending=False, kind="tag"),
        TraceOrder("user id", ascending=True, kind="metadata"),
        TraceOrder("mlflow.sourceRun", ascending=True, kind="metadata"),
    ]
    with pytest.raises(InvalidFilter, match="cannot order traces by"):
        parse_trace_order_by(["span.name"])
    with pytest.raises(InvalidFilter, match="cannot order traces by"):
        parse_trace_order_by(["feedback.score"])
    with pytest.raises(InvalidFilter, match="duplicate fields"):
        parse_trace_order_by(["tags.env", "tags.env DESC"])
    with pytest.raises(InvalidFilter, match="cannot parse order_by"):
        parse_trace_order_by(["timestamp_ms, name"])


def test_assessments_prompts_text_span_attributes_and_rlike_parse() -> None:
    text = (
        "feedback.correct = 'yes' AND feedback.score >= 0.5 AND expectation.answer != '42'"
        " AND feedback.tone IS NOT NULL AND expectation.`expected facts` IS NULL"
        " AND feedback.score < '3' AND feedback.tone RLIKE '^pol' AND prompt = 'qa/2'"
        " AND trace.text LIKE '%shipyard%' AND span.content ILIKE '%Doc%'"
        " AND span.attributes.model = 'gpt-4' AND span.attributes.mlflow.spanInputs LIKE '%q%'"
        " AND span.attributes.k IN ('1', '2') AND span.name RLIKE 'look.*'"
        " AND tags.env RLIKE '^prod$' AND metadata.user RLIKE 'bob|alice' AND trace.status RLIKE 'O.'"
        " AND name IS NULL"
    )
    assert parse_trace_filter(text) == [
        TraceClause("feedback", "correct", "=", "yes"),
        TraceClause("feedback", "score", ">=", 0.5),
        TraceClause("expectation", "answer", "!=", "42"),
        TraceClause("feedback", "tone", "IS NOT NULL", None),
        TraceClause("expectation", "expected facts", "IS NULL", None),
        TraceClause("feedback", "score", "<", 3.0),
        TraceClause("feedback", "tone", "RLIKE", "^pol"),
        TraceClause("prompt", "prompt", "=", "qa/2"),
        TraceClause("content", "text", "LIKE", "%shipyard%"),
        TraceClause("content", "content", "ILIKE", "%Doc%"),
        TraceClause("span_attribute", "model", "=", "gpt-4"),
        TraceClause("span_attribute", "mlflow.spanInputs", "LIKE", "%q%"),
        TraceClause("span_attribute", "k", "IN", ("1", "2")),
        TraceClause("span", "name", "RLIKE", "look"),  # a trailing .* changes nothing
        TraceClause("tag", "env", "RLIKE", "^prod$"),
        TraceClause("metadata", "user", "RLIKE", "bob|alice"),
        TraceClause("attribute", "status", "RLIKE", "O."),
        TraceClause("attribute", "name", "IS NULL", None),
    ]


@pytest.mark.parametrize(
    "pattern",
    ["(a+)+", "(a*)*b", "(a|b*)*", "((a+))+", "(?:x+)*", "(a{2,})+", "(?P<n>a+)+$", "((ab)+c)+"],
)
def test_nested_repetition_is_refused(pattern: str) -> None:
    with pytest.raises(InvalidFilter, match="exponential time"):
        check_regex(pattern)


@pytest.mark.parametrize(
    "pattern",
    ["(a+)?", "(a+){1}", "a+b*", "(ab)+", "[(]+", r"\(a+\)+", "(a{2})+", "[a+]+", "(a)+(b+)", "^gpt-4o?$"],
)
def test_patterns_without_nested_repetition_pass(pattern: str) -> None:
    assert check_regex(pattern) == pattern


def test_long_patterns_are_refused() -> None:
    with pytest.raises(InvalidFilter, match=f"at most {MAX_REGEX_LENGTH}"):
        check_regex("a" * (MAX_REGEX_LENGTH + 1))


@pytest.mark.parametrize(
    ("pattern", "run"),
    [
        (".*a.*b.*c", "a.*b.*c"),
        (".*?x.*?", "x"),
        (".*.*x", "x"),
        ("^.*x", "^.*x"),
        ("x.*$", "x.*$"),
        ("a\\.*", "a\\.*"),  # an escaped dot, repeated: kept
        ("a\\\\.*", "a\\\\"),  # an escaped backslash, then .*: dropped
        (".*", ""),
    ],
)
def test_idle_leading_and_trailing_dot_stars_are_dropped(pattern: str, run: str) -> None:
    """They change no search's answer, and a leading one costs Python's engine a pass over
    the value per start position (``.*a.*b.*c`` takes 90 s on 8,000 characters, ``a.*b.*c`` 0.05 s)."""
    assert check_regex(pattern) == run
