"""The rules of trace metrics (``domain/trace_metrics.py``): MLflow's vocabulary and messages,
the filter grammar, percentiles as MLflow computes them, the numbers read from client JSON."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from shipyard.domain.trace_metrics import (
    METRICS,
    MetricFilter,
    MetricQuery,
    aggregate,
    bucket_label,
    check_query,
    json_number,
    parse_metric_filter,
    percentile,
)
from shipyard.errors import InvalidArgument, InvalidFilter


def _query(
    view: str = "TRACES",
    metric: str = "latency",
    *aggs: tuple[str, float | None],
    dimensions: Sequence[str] = (),
    filters: Sequence[str] = (),
    interval: int | None = None,
    start: int | None = None,
    end: int | None = None,
) -> MetricQuery:
    return check_query(view, metric, list(aggs) or [("AVG", None)], dimensions, filters, interval, start, end)


def test_the_vocabulary_is_mlflows() -> None:
    from mlflow.store.tracking.utils.sql_trace_metrics_utils import VIEW_TYPE_CONFIGS

    for view, configs in VIEW_TYPE_CONFIGS.items():
        assert list(METRICS[view.value]) == [str(k) for k in configs]
        for metric, config in configs.items():
            spec = METRICS[view.value][metric]
            assert spec.aggregations == {a.value for a in config.aggregation_types}, metric
            assert spec.dimensions == config.dimensions, metric


@pytest.mark.parametrize("n", [1, 2, 3, 10, 101])
@pytest.mark.parametrize("p", [0, 1, 25, 50, 90, 99.9, 100])
def test_percentile_interpolates_as_numpy(n: int, p: float) -> None:
    values = sorted(random.Random(n).uniform(-5, 1000) for _ in range(n))
    assert percentile(values, p) == pytest.approx(float(np.percentile(values, p)))


def test_aggregate_groups_skips_nulls_and_counts_nothing_as_zero() -> None:
    q = _query(
        "TRACES", "latency", ("AVG", None), ("MAX", None), ("PERCENTILE", 50.0), dimensions=["trace_name"]
    )
    rows = [(("b",), 4.0), (("a",), 1.0), (("a",), 3.0), ((None,), 7.0), (("c",), None)]
    assert aggregate(rows, q) == [
        (("a",), {"AVG": 2.0, "MAX": 3.0, "P50.0": 2.0}),
        (("b",), {"AVG": 4.0, "MAX": 4.0, "P50.0": 4.0}),
    ]
    count = _query("TRACES", "trace_count", ("COUNT", None))
    assert aggregate([], count) == [((), {"COUNT": 0.0})]  # SQL's ungrouped aggregate: one row
    assert aggregate([], q) == []
    assert aggregate([], _query("TRACES", "latency", ("AVG", None))) == []  # AVG of nothing: no point


def test_json_number_reads_what_the_client_wrote() -> None:
    usage = json.dumps({"input_tokens": 10, "output_tokens": 2.5, "total_tokens": True})
    assert json_number(usage, "input_tokens") == 10.0
    assert json_number(usage, "output_tokens") == 2.5
    assert json_number(usage, "total_tokens") is None  # a boolean is no count
    assert json_number(usage, "cache_read_input_tokens") is None
    # span attributes arrive JSON-encoded once more
    assert json_number(json.dumps(json.dumps({"total_cost": 0.3})), "total_cost") == 0.3
    for bad in ("not json", "[1, 2]", '"text"', "", None, '{"total_cost": "0.3"}'):
        assert json_number(bad, "total_cost") is None, bad


def test_filters_parse_one_clause_each() -> None:
    assert parse_metric_filter("trace.status = 'OK'") == MetricFilter("trace", "status", None, "OK")
    assert parse_metric_filter('trace.tag.mlflow.traceName = "chat"') == MetricFilter(
        "trace", "tag", "mlflow.traceName", "chat"
    )
    assert parse_metric_filter("span.type = 'it''s'") == MetricFilter("span", "type", None, "it's")
    assert parse_metric_filter("assessment.name='correct'") == MetricFilter(
        "assessment", "name", None, "correct"
    )


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("trace.status != 'OK'", "Invalid comparator: '!=', only '=' operator is supported"),
        ("trace.status LIKE 'O%'", "Invalid comparator: 'LIKE'"),
        ("trace.status = OK", "Expected a quoted string value for status value"),
        ("trace.status = 1", "Expected a quoted string value"),
        ("trace.tag = 'x'", "Filtering by tag requires a key, e.g. 'trace.tag.<key> = <value>'"),
        ("trace.status.x = 'x'", "Filtering by status does not require a key, use 'trace.status' instead"),
        ("span.model = 'x'", "Invalid entity 'model' specified for view type 'span'"),
        ("metric.x = 'x'", "Invalid view type 'metric'"),
        ("status = 'OK'", "Invalid identifier"),
        ("trace.status = 'OK' AND span.name = 'x'", "Expected one filter clause"),
        ("", "Expected one filter clause"),
        ("trace.status =", "ends early"),
    ],
)
def test_bad_filters_say_what_is_wrong(text: str, words: str) -> None:
    with pytest.raises(InvalidFilter) as caught:
        parse_metric_filter(text)
    assert words in caught.value.message


@pytest.mark.parametrize(
    ("args", "more", "words"),
    [
        (("RUNS", "latency"), {}, "view_type must be one of ['TRACES', 'SPANS', 'ASSESSMENTS'], got 'RUNS'"),
        (("SPANS", "trace_count"), {}, "metric_name must be one of ['span_count', 'latency', 'input_cost',"),
        (("TRACES", "latency", ("SUM", None)), {}, "Found invalid aggregation_type(s): ['SUM']"),
        (("TRACES", "latency"), {"dimensions": ["trace_status"]}, "Supported dimensions: ['trace_name']"),
        (("TRACES", "latency", ("PERCENTILE", None)), {}, "Percentile value is required"),
        (("TRACES", "latency", ("PERCENTILE", -1.0)), {}, "between 0 and 100, got -1.0"),
        (
            ("TRACES", "trace_count", ("COUNT", 5.0)),
            {},
            "only allowed for PERCENTILE aggregation type, got COUNT",
        ),
        (
            ("TRACES", "latency"),
            {"filters": ["assessment.name = 'x'"]},
            "only supported for ASSESSMENTS view",
        ),
        (("TRACES", "latency"), {"interval": 60, "start": 0}, "start_time_ms and end_time_ms are required"),
        (("TRACES", "latency"), {"interval": -5, "start": 0, "end": 1}, "must be positive"),
        (("TRACES", "latency"), {"start": 2**63}, "out of range"),
    ],
)
def test_bad_queries_get_mlflows_messages(args: tuple[Any, ...], more: dict[str, Any], words: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        _query(*args, **more)
    assert words in caught.value.message


def test_a_query_keeps_mlflows_order_and_labels() -> None:
    q = _query(
        "SPANS",
        "latency",
        ("PERCENTILE", 95),
        ("AVG", None),
        dimensions=["span_status", "span_name", "span_status"],
        interval=60,
        start=0,
        end=10,
    )
    assert [a.label for a in q.aggregations] == ["P95.0", "AVG"]
    assert q.grouping == ("time_bucket", "span_status", "span_name")
    assert q.percentiles and q.in_json is None
    assert _query("SPANS", "total_cost", ("SUM", None)).in_json == "total_cost"
    assert _query("TRACES", "total_tokens", ("SUM", None)).in_json == "total_tokens"
    # an interval of 0 is no bucketing, as MLflow reads it
    assert _query("TRACES", "latency", interval=0).grouping == ()


def test_buckets_are_named_by_their_start_in_utc() -> None:
    assert bucket_label(1_735_689_600_000) == "2025-01-01T00:00:00+00:00"
    assert bucket_label(1_735_689_600_500) == "2025-01-01T00:00:00.500000+00:00"
