"""MLflow's trace metrics (``POST /api/3.0/mlflow/traces/metrics``) in-process, on SQLite and
PostgreSQL: traces, spans and assessments made through the real routes (OTLP spans, the v3
start-trace and assessment routes), then counted, averaged, bucketed, grouped, filtered and
paged; bad input answered with MLflow's codes and messages.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from shipyard.settings import Settings
from tests.conftest import ADMIN_TOKEN, AUTH
from tests.integration.test_access_matrix import SyncClient, in_process

V3 = "/api/3.0/mlflow"
T0 = 1_735_689_600_000  # 2025-01-01T00:00:00Z, in ms
MIN = 60_000


@pytest.fixture
def api(tmp_path: Path, database_url: str) -> Iterator[SyncClient]:
    settings = Settings(home=tmp_path, database_url=database_url, roles="api", admin_token=ADMIN_TOKEN)
    with in_process(settings, AUTH) as client:
        yield client


def _attr(key: str, value: Any) -> dict[str, Any]:
    # MLflow's client JSON-encodes every attribute value into an OTLP string
    return {"key": key, "value": {"stringValue": json.dumps(value)}}


def _span(
    trace_hex: str,
    span_hex: str,
    name: str,
    start_ms: int,
    ms: int,
    *,
    parent: str | None = None,
    **attrs: Any,
) -> dict[str, Any]:
    span: dict[str, Any] = {
        "traceId": trace_hex,
        "spanId": span_hex,
        "name": name,
        "startTimeUnixNano": str(start_ms * 1_000_000),
        "endTimeUnixNano": str((start_ms + ms) * 1_000_000),
        "status": {"code": 2 if attrs.pop("error", False) else 1},
        "attributes": [_attr(k, v) for k, v in attrs.items()],
    }
    if parent:
        span["parentSpanId"] = parent
    return span


@dataclass
class World:
    experiment_id: str
    traces: list[str]


def _trace(
    api: SyncClient,
    experiment_id: str,
    name: str,
    start_ms: int,
    ms: int,
    children: list[tuple[str, int, dict[str, Any]]],
    *,
    error: bool = False,
    metadata: dict[str, str] | None = None,
) -> str:
    trace_hex = uuid.uuid4().hex
    spans = [_span(trace_hex, "00000000000000a0", name, start_ms, ms, error=error)]
    for i, (child, child_ms, attrs) in enumerate(children):
        spans.append(
            _span(
                trace_hex,
                f"00000000000000b{i}",
                child,
                start_ms + 1,
                child_ms,
                parent="00000000000000a0",
                **attrs,
            )
        )
    sent = api.request(
        "POST",
        "/v1/traces",
        json={"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]},
        headers={"x-mlflow-experiment-id": experiment_id},
    )
    assert sent.status_code == 200, sent.text
    trace_id = f"tr-{trace_hex}"
    if metadata:
        started = api.request(
            "POST",
            f"{V3}/traces",
            json={
                "trace": {
                    "trace_info": {
                        "trace_id": trace_id,
                        "trace_location": {
                            "type": "MLFLOW_EXPERIMENT",
                            "mlflow_experiment": {"experiment_id": experiment_id},
                        },
                        "request_time": _iso(start_ms),
                        "execution_duration": f"{ms / 1000}s",
                        "state": "ERROR" if error else "OK",
                        "trace_metadata": metadata,
                        "tags": {"mlflow.traceName": name},
                    }
                }
            },
        )
        assert started.status_code == 200, started.text
    return trace_id


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def _assess(api: SyncClient, trace_id: str, name: str, value: Any, **extra: Any) -> str:
    made = api.request(
        "POST",
        f"{V3}/traces/{trace_id}/assessments",
        json={
            "assessment": {
                "assessment_name": name,
                "feedback": {"value": value},
                "source": {"source_type": "HUMAN", "source_id": "ann"},
                **extra,
            }
        },
    )
    assert made.status_code == 200, made.text
    return str(made.json()["assessment"]["assessment_id"])


def _usage(inp: int, out: int) -> str:
    return json.dumps({"input_tokens": inp, "output_tokens": out, "total_tokens": inp + out})


LLM = {"mlflow.spanType": "LLM", "mlflow.llm.model": "gpt-4o", "mlflow.llm.provider": "openai"}


@pytest.fixture
def world(api: SyncClient) -> World:
    made = api.request("POST", "/api/2.0/mlflow/experiments/create", json={"name": "metrics"})
    assert made.status_code == 200, made.text
    e = str(made.json()["experiment_id"])
    cost = {"input_cost": 0.1, "output_cost": 0.2, "total_cost": 0.3}
    t1 = _trace(
        api,
        e,
        "chat",
        T0,
        100,
        [("llm", 40, {**LLM, "mlflow.llm.cost": cost})],
        metadata={"mlflow.trace.tokenUsage": _usage(10, 5), "mlflow.trace.session": "s1"},
    )
    t2 = _trace(
        api,
        e,
        "chat",
        T0 + 30 * MIN,
        300,
        [("llm", 80, {**LLM, "mlflow.llm.cost": {"input_cost": 0.2, "output_cost": 0.3, "total_cost": 0.5}})],
        metadata={"mlflow.trace.tokenUsage": _usage(30, 15), "mlflow.trace.session": "s1"},
    )
    t3 = _trace(
        api,
        e,
        "search",
        T0 + 90 * MIN,
        200,
        [("tool", 10, {"mlflow.spanType": "TOOL"})],
        error=True,
        metadata={"mlflow.trace.tokenUsage": "not json", "mlflow.trace.session": "s2", "env": "prod"},
    )
    _assess(api, t1, "correct", True)
    _assess(api, t2, "correct", False)
    _assess(api, t3, "correct", "yes")
    _assess(api, t1, "score", 0.8)
    old = _assess(api, t2, "score", 0.1)
    _assess(api, t2, "score", 0.4, overrides=old)  # the 0.1 no longer counts
    _assess(api, t3, "note", "free text")  # no number: counted, never averaged
    return World(e, [t1, t2, t3])


def _query(api: SyncClient, body: dict[str, Any], root: str = "/api") -> httpx.Response:
    return api.request("POST", f"{root}/3.0/mlflow/traces/metrics", json=body)


def _points(
    api: SyncClient, world: World, view: str, metric: str, *aggs: Any, **more: Any
) -> list[dict[str, Any]]:
    aggregations = [
        {"aggregation_type": "PERCENTILE", "percentile_value": a}
        if isinstance(a, int | float)
        else {"aggregation_type": a}
        for a in aggs
    ]
    body = {
        "experiment_ids": [world.experiment_id],
        "view_type": view,
        "metric_name": metric,
        "aggregations": aggregations,
        **more,
    }
    found = _query(api, body)
    assert found.status_code == 200, found.text
    return list(found.json().get("data_points", []))


def _by(points: list[dict[str, Any]], dimension: str) -> dict[str, dict[str, float]]:
    return {p["dimensions"][dimension]: p["values"] for p in points}


def test_trace_metrics(api: SyncClient, world: World) -> None:
    (count,) = _points(api, world, "TRACES", "trace_count", "COUNT")
    assert count == {"metric_name": "trace_count", "values": {"COUNT": 3.0}}
    by_status = _points(api, world, "TRACES", "trace_count", "COUNT", dimensions=["trace_status"])
    assert _by(by_status, "trace_status") == {"ERROR": {"COUNT": 1.0}, "OK": {"COUNT": 2.0}}
    # latency: 100, 300 and 200 ms; percentiles interpolate linearly, as MLflow's do
    (latency,) = _points(api, world, "TRACES", "latency", "AVG", "MIN", "MAX", 50, 90)
    assert latency["values"] == {"AVG": 200.0, "MIN": 100.0, "MAX": 300.0, "P50.0": 200.0, "P90.0": 280.0}
    by_name = _points(api, world, "TRACES", "latency", "AVG", 50, dimensions=["trace_name"])
    assert _by(by_name, "trace_name") == {
        "chat": {"AVG": 200.0, "P50.0": 200.0},
        "search": {"AVG": 200.0, "P50.0": 200.0},
    }
    (sessions,) = _points(api, world, "TRACES", "session_count", "COUNT")
    assert sessions["values"] == {"COUNT": 2.0}
    # token usage from the tokenUsage metadata; the trace whose value is not JSON is left out
    (tokens,) = _points(api, world, "TRACES", "total_tokens", "SUM", "AVG", "MAX", 50)
    assert tokens["values"] == {"SUM": 60.0, "AVG": 30.0, "MAX": 45.0, "P50.0": 30.0}
    (inputs,) = _points(api, world, "TRACES", "input_tokens", "SUM", dimensions=["trace_name"])
    assert inputs == {
        "metric_name": "input_tokens",
        "dimensions": {"trace_name": "chat"},
        "values": {"SUM": 40.0},
    }


def test_span_metrics(api: SyncClient, world: World) -> None:
    by_type = _points(api, world, "SPANS", "span_count", "COUNT", dimensions=["span_type"])
    assert _by(by_type, "span_type") == {"LLM": {"COUNT": 2.0}, "TOOL": {"COUNT": 1.0}}
    by_model = _points(
        api, world, "SPANS", "span_count", "COUNT", dimensions=["span_model_name", "span_model_provider"]
    )
    assert by_model == [
        {
            "metric_name": "span_count",
            "dimensions": {"span_model_name": "gpt-4o", "span_model_provider": "openai"},
            "values": {"COUNT": 2.0},
        }
    ]
    by_status = _points(api, world, "SPANS", "span_count", "COUNT", dimensions=["span_status"])
    assert _by(by_status, "span_status") == {"ERROR": {"COUNT": 1.0}, "OK": {"COUNT": 5.0}}
    latency = _points(api, world, "SPANS", "latency", "AVG", "MAX", 50, dimensions=["span_name"])
    assert _by(latency, "span_name")["llm"] == {"AVG": 60.0, "MAX": 80.0, "P50.0": 60.0}
    (cost,) = _points(api, world, "SPANS", "total_cost", "SUM", "MIN", dimensions=["span_model_name"])
    assert cost["dimensions"] == {"span_model_name": "gpt-4o"}
    assert cost["values"]["SUM"] == pytest.approx(0.8) and cost["values"]["MIN"] == pytest.approx(0.3)
    # span filters narrow the spans counted; trace filters the traces they belong to
    (tools,) = _points(api, world, "SPANS", "span_count", "COUNT", filters=["span.type = 'TOOL'"])
    assert tools["values"] == {"COUNT": 1.0}
    (ok_llm,) = _points(
        api, world, "SPANS", "span_count", "COUNT", filters=["span.name = 'llm'", "trace.status = 'OK'"]
    )
    assert ok_llm["values"] == {"COUNT": 2.0}


def test_assessment_metrics(api: SyncClient, world: World) -> None:
    by_name = _points(api, world, "ASSESSMENTS", "assessment_count", "COUNT", dimensions=["assessment_name"])
    # the overridden score no longer counts
    assert _by(by_name, "assessment_name") == {
        "correct": {"COUNT": 3.0},
        "note": {"COUNT": 1.0},
        "score": {"COUNT": 2.0},
    }
    values = _points(
        api, world, "ASSESSMENTS", "assessment_value", "AVG", "MIN", dimensions=["assessment_name"]
    )
    # true, false and "yes" read as 1, 0, 1; free text as no number at all
    found = _by(values, "assessment_name")
    assert set(found) == {"correct", "score"}
    assert found["correct"]["AVG"] == pytest.approx(2 / 3) and found["correct"]["MIN"] == 0.0
    assert found["score"]["AVG"] == pytest.approx(0.6)
    (median,) = _points(
        api, world, "ASSESSMENTS", "assessment_value", 50, filters=["assessment.name = 'score'"]
    )
    assert median["values"]["P50.0"] == pytest.approx(0.6)
    by_value = _points(
        api,
        world,
        "ASSESSMENTS",
        "assessment_count",
        "COUNT",
        dimensions=["assessment_value"],
        filters=["assessment.name = 'correct'"],
    )
    assert _by(by_value, "assessment_value") == {
        '"yes"': {"COUNT": 1.0},
        "false": {"COUNT": 1.0},
        "true": {"COUNT": 1.0},
    }
    (feedback,) = _points(
        api, world, "ASSESSMENTS", "assessment_count", "COUNT", filters=["assessment.type = 'feedback'"]
    )
    assert feedback["values"] == {"COUNT": 6.0}


def test_time_buckets_and_range(api: SyncClient, world: World) -> None:
    hourly = _points(
        api,
        world,
        "TRACES",
        "trace_count",
        "COUNT",
        time_interval_seconds=3600,
        start_time_ms=T0,
        end_time_ms=T0 + 3 * 60 * MIN,
        dimensions=["trace_status"],
    )
    assert [
        (p["dimensions"]["time_bucket"], p["dimensions"]["trace_status"], p["values"]) for p in hourly
    ] == [
        ("2025-01-01T00:00:00+00:00", "OK", {"COUNT": 2.0}),
        ("2025-01-01T01:00:00+00:00", "ERROR", {"COUNT": 1.0}),
    ]
    # the range is inclusive at both ends, in ms; as strings too (protobuf's int64 JSON)
    narrow = _points(
        api,
        world,
        "TRACES",
        "trace_count",
        "COUNT",
        start_time_ms=str(T0 + 30 * MIN),
        end_time_ms=T0 + 90 * MIN,
    )
    assert narrow[0]["values"] == {"COUNT": 2.0}
    spans = _points(
        api,
        world,
        "SPANS",
        "total_cost",
        "SUM",
        time_interval_seconds=1800,
        start_time_ms=T0,
        end_time_ms=T0 + 60 * MIN,
    )
    assert [p["dimensions"]["time_bucket"] for p in spans] == [
        "2025-01-01T00:00:00+00:00",
        "2025-01-01T00:30:00+00:00",
    ]
    # nothing in range: a count is still a point (0), an average is none
    empty = {"start_time_ms": T0 - 10 * MIN, "end_time_ms": T0 - MIN}
    assert _points(api, world, "TRACES", "trace_count", "COUNT", **empty) == [
        {"metric_name": "trace_count", "values": {"COUNT": 0.0}}
    ]
    assert _points(api, world, "TRACES", "latency", "AVG", **empty) == []


def test_filters(api: SyncClient, world: World) -> None:
    def count(*filters: str) -> float:
        (point,) = _points(api, world, "TRACES", "trace_count", "COUNT", filters=list(filters))
        return float(point["values"]["COUNT"])

    assert count("trace.status = 'OK'") == 2
    assert count("trace.tag.mlflow.traceName = 'search'") == 1
    assert count("trace.metadata.env = 'prod'") == 1
    assert count("trace.metadata.mlflow.trace.session = 's1'", "trace.status = 'OK'") == 2
    assert count("trace.status = 'IN_PROGRESS'") == 0
    (scores,) = _points(
        api, world, "ASSESSMENTS", "assessment_count", "COUNT", filters=["trace.status = 'ERROR'"]
    )
    assert scores["values"] == {"COUNT": 2.0}


def test_paging(api: SyncClient, world: World) -> None:
    body = {
        "experiment_ids": [world.experiment_id],
        "view_type": "SPANS",
        "metric_name": "span_count",
        "aggregations": [{"aggregation_type": "COUNT"}],
        "dimensions": ["span_name"],
        "max_results": 2,
    }
    seen: list[str] = []
    token = None
    for _ in range(3):
        page = _query(api, {**body, **({"page_token": token} if token else {})}, root="/ajax-api")
        assert page.status_code == 200, page.text
        seen += [p["dimensions"]["span_name"] for p in page.json()["data_points"]]
        token = page.json().get("next_page_token")
        if token is None:
            break
    assert seen == ["chat", "llm", "search", "tool"]
    # the same paging on the Python path (percentiles)
    pct = {
        **body,
        "metric_name": "latency",
        "aggregations": [{"aggregation_type": "PERCENTILE", "percentile_value": 50}],
    }
    first = _query(api, pct).json()
    assert [p["dimensions"]["span_name"] for p in first["data_points"]] == ["chat", "llm"]
    second = _query(api, {**pct, "page_token": first["next_page_token"]}).json()
    assert [p["dimensions"]["span_name"] for p in second["data_points"]] == ["search", "tool"]
    assert "next_page_token" not in second
    # a token of another query, or no token at all, is refused
    other = _query(api, {**body, "dimensions": ["span_type"], "page_token": first["next_page_token"]})
    assert "different query" in _error(other, 400, "INVALID_PARAMETER_VALUE")
    junk = _query(api, {**body, "page_token": "not-a-token!"})
    assert "page_token" in _error(junk, 400, "INVALID_PARAMETER_VALUE")


def _error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code, body
    return str(body["message"])


def test_bad_input(api: SyncClient, world: World) -> None:
    base: dict[str, Any] = {
        "experiment_ids": [world.experiment_id],
        "view_type": "TRACES",
        "metric_name": "trace_count",
        "aggregations": [{"aggregation_type": "COUNT"}],
    }
    for missing in ("experiment_ids", "view_type", "metric_name", "aggregations"):
        body = {k: v for k, v in base.items() if k != missing}
        assert _error(_query(api, body), 400, "INVALID_PARAMETER_VALUE") == (
            f"Missing value for required parameter '{missing}'. "
            "See the API docs for more information about request parameters."
        )
    for change, words in (
        (
            {"metric_name": "span_count"},
            "metric_name must be one of ['trace_count', 'session_count', 'latency', 'input_tokens', "
            "'output_tokens', 'total_tokens', 'cache_read_input_tokens', 'cache_creation_input_tokens'], "
            "got 'span_count'",
        ),
        (
            {"aggregations": [{"aggregation_type": "SUM"}]},
            "Found invalid aggregation_type(s): ['SUM']. Supported aggregation types: ['COUNT']",
        ),
        (
            {"dimensions": ["span_name"]},
            "Found invalid dimension(s): ['span_name']. Supported dimensions: ['trace_name', 'trace_status']",
        ),
        (
            {"metric_name": "latency", "aggregations": [{"aggregation_type": "PERCENTILE"}]},
            "Percentile value is required for PERCENTILE aggregation",
        ),
        (
            {
                "metric_name": "latency",
                "aggregations": [{"aggregation_type": "PERCENTILE", "percentile_value": 101}],
            },
            "Percentile value must be between 0 and 100, got 101.0",
        ),
        (
            {"aggregations": [{"aggregation_type": "COUNT", "percentile_value": 5}]},
            "Percentile value is only allowed for PERCENTILE aggregation type, got COUNT",
        ),
        ({"aggregations": [{"aggregation_type": "MEDIAN"}]}, "aggregation_type"),
        ({"view_type": "RUNS"}, "view_type"),
        ({"view_type": 9}, "view_type"),
        (
            {"time_interval_seconds": 60},
            "start_time_ms and end_time_ms are required if time_interval_seconds is set",
        ),
        (
            {"filters": ["span.name = 'x'"]},
            "Filtering by span is only supported for SPANS view type, got TRACES",
        ),
        ({"filters": ["trace.status != 'OK'"]}, "Invalid comparator: '!=', only '=' operator is supported"),
        ({"filters": ["trace.status = 5"]}, "Expected a quoted string value for status value"),
        ({"filters": ["trace.tag = 'x'"]}, "Filtering by tag requires a key"),
        ({"filters": ["trace.name = 'x'"]}, "Invalid entity 'name' specified for view type 'trace'"),
        ({"filters": ["run.status = 'x'"]}, "Invalid view type 'run'"),
        ({"filters": ["trace.status = 'OK' AND trace.status = 'OK'"]}, "Expected one filter clause"),
        ({"filters": ["trace.status = 'OK"]}, "cannot parse"),
        ({"max_results": 0}, "max_results must be between 1 and 1000"),
        ({"max_results": 1001}, "max_results must be between 1 and 1000"),
        ({"start_time_ms": "soon"}, "start_time_ms"),
        ({"aggregations": [{}]}, "aggregation_type"),
        ({"dimensions": "trace_name"}, "dimensions"),
        ({"filters": ["x" * 10_001]}, "longer than 10,000 characters"),
    ):
        assert words in _error(_query(api, {**base, **change}), 400, "INVALID_PARAMETER_VALUE"), change
    # an experiment that does not exist (or is another workspace's) is not found
    gone = _query(api, {**base, "experiment_ids": ["987654"]})
    assert _error(gone, 404, "RESOURCE_DOES_NOT_EXIST") == "No Experiment with id=987654 exists"
    for odd in ("abc", "9" * 30, ""):
        _error(
            _query(api, {**base, "experiment_ids": [world.experiment_id, odd]}),
            404,
            "RESOURCE_DOES_NOT_EXIST",
        )


def test_only_readers_of_the_experiment(api: SyncClient, world: World) -> None:
    anonymous = api.request(
        "POST",
        f"{V3}/traces/metrics",
        json={"experiment_ids": [world.experiment_id]},
        headers={"Authorization": ""},
    )
    assert anonymous.status_code == 401, anonymous.text
    # another workspace's caller finds no such experiment
    other = {"Shipyard-Workspace": "other"}
    made = api.request("POST", "/api/2.0/mlflow/experiments/create", json={"name": "theirs"}, headers=other)
    assert made.status_code == 200, made.text
    theirs = api.request(
        "POST",
        f"{V3}/traces/metrics",
        json={
            "experiment_ids": [world.experiment_id],
            "view_type": "TRACES",
            "metric_name": "trace_count",
            "aggregations": [{"aggregation_type": "COUNT"}],
        },
        headers=other,
    )
    _error(theirs, 404, "RESOURCE_DOES_NOT_EXIST")
