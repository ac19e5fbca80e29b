"""MLflow 3 tracing with the unchanged client against a real server (SQLite and PostgreSQL,
auth on): ``@mlflow.trace`` and ``mlflow.start_span`` export spans over OTLP, the trace's
info follows; ``get_trace``, ``search_traces``, tags, assessments, links to runs and
deletion read and change what the server stored. Payloads past 64 KB live in the artifact
store and read back the same."""

from __future__ import annotations

import time
import uuid
import warnings
from typing import Any

import httpx
import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.entities import AssessmentSource, SpanType
from mlflow.exceptions import MlflowException

from tests.conftest import AUTH, ServerProcess

with warnings.catch_warnings():
    # Tracing imports mlflow.pyfunc on a trace's first span, which warns (3.17) about the Any
    # hints of its own chat types; under pytest's warnings-as-errors the span would be lost.
    warnings.filterwarnings("ignore", ".*Any type hint is inferred as AnyType", UserWarning)
    import mlflow.pyfunc

pytestmark = pytest.mark.slow


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def flush() -> None:
    """The client exports spans and traces in background threads: wait for them."""
    mlflow.flush_trace_async_logging(terminate=False)


@mlflow.trace(span_type=SpanType.TOOL)
def add(a: int, b: int) -> int:
    return a + b


@mlflow.trace
def pipeline(question: str) -> dict[str, Any]:
    total = add(2, 3)
    with mlflow.start_span("lookup", span_type=SpanType.RETRIEVER) as span:
        span.set_inputs({"query": question})
        span.set_outputs([{"doc": "shipyard"}])
        span.set_attribute("k", 3)
    return {"answer": question.upper(), "total": total}


def last_trace_id() -> str:
    trace_id = mlflow.get_last_active_trace_id()
    assert trace_id is not None
    return trace_id


def test_a_decorated_call_is_stored_with_its_spans(mlflow_server: ServerProcess) -> None:
    mlflow.set_experiment(unique("traces"))
    assert pipeline("why") == {"answer": "WHY", "total": 5}
    flush()
    trace = MlflowClient().get_trace(last_trace_id())
    assert trace.info.state.value == "OK"
    assert trace.info.tags["mlflow.trace.spansLocation"] == "TRACKING_STORE"
    assert trace.info.tags["mlflow.traceName"] == "pipeline"
    assert trace.info.execution_duration is not None and trace.info.execution_duration >= 0
    spans = {s.name: s for s in trace.data.spans}
    assert set(spans) == {"pipeline", "add", "lookup"}
    root = spans["pipeline"]
    assert root.parent_id is None
    assert root.inputs == {"question": "why"}
    assert root.outputs == {"answer": "WHY", "total": 5}
    assert spans["add"].parent_id == root.span_id and spans["add"].span_type == SpanType.TOOL
    assert spans["add"].inputs == {"a": 2, "b": 3} and spans["add"].outputs == 5
    assert spans["lookup"].outputs == [{"doc": "shipyard"}]
    assert spans["lookup"].attributes["k"] == 3
    # the fluent API reads the same
    assert mlflow.get_trace(trace.info.trace_id).info.request_preview == trace.info.request_preview


def test_an_error_in_a_span_marks_the_trace(mlflow_server: ServerProcess) -> None:
    mlflow.set_experiment(unique("errors"))

    @mlflow.trace
    def boom() -> None:
        raise ValueError("no luck")

    with pytest.raises(ValueError, match="no luck"):
        boom()
    flush()
    trace = MlflowClient().get_trace(last_trace_id())
    assert trace.info.state.value == "ERROR"
    (span,) = trace.data.spans
    assert span.status.status_code.value == "ERROR"
    assert [e.name for e in span.events] == ["exception"]
    assert "no luck" in span.events[0].attributes["exception.message"]


def test_search_filters_orders_and_pages(mlflow_server: ServerProcess) -> None:
    experiment = mlflow.set_experiment(unique("search"))
    made = []
    for i in range(5):
        with mlflow.start_span(f"step-{i}") as span:
            span.set_inputs({"i": i})
            mlflow.update_current_trace(tags={"env": "prod" if i % 2 == 0 else "dev", "i": str(i)})
        made.append(span.trace_id)
        time.sleep(0.005)  # distinct request times
    flush()
    client = MlflowClient()
    ids = [experiment.experiment_id]
    prod = client.search_traces(locations=ids, filter_string="tags.env = 'prod'")
    assert sorted(t.info.trace_id for t in prod) == sorted(made[0::2])
    assert {t.data.spans[0].name for t in prod} == {"step-0", "step-2", "step-4"}
    newest_first = client.search_traces(locations=ids, include_spans=False)
    assert [t.info.trace_id for t in newest_first] == made[::-1]
    oldest_first = client.search_traces(locations=ids, order_by=["timestamp_ms ASC"], include_spans=False)
    assert [t.info.trace_id for t in oldest_first] == made
    first = client.search_traces(locations=ids, max_results=2, order_by=["timestamp_ms ASC"])
    assert [t.info.trace_id for t in first] == made[:2] and first.token
    second = client.search_traces(
        locations=ids, max_results=2, order_by=["timestamp_ms ASC"], page_token=first.token
    )
    assert [t.info.trace_id for t in second] == made[2:4]
    since = client.get_trace(made[2]).info.request_time
    later = client.search_traces(
        locations=ids,
        filter_string=f"trace.timestamp_ms >= {since} AND trace.status = 'OK' AND tags.env LIKE 'pr%'",
        include_spans=False,
    )
    assert {t.info.trace_id for t in later} == {made[2], made[4]}
    named = client.search_traces(locations=ids, filter_string="trace.name = 'step-3'", include_spans=False)
    assert [t.info.trace_id for t in named] == [made[3]]
    frame = mlflow.search_traces(locations=ids, filter_string="span.name = 'step-1'")
    assert list(frame["trace_id"]) == [made[1]]


def test_a_bad_filter_says_what_is_wrong(mlflow_server: ServerProcess) -> None:
    experiment = mlflow.set_experiment(unique("bad-filter"))
    client = MlflowClient()
    for text, words in (
        ("trace.color = 'red'", "unknown trace attribute 'color'"),
        ("tags.env = prod", "quoted string"),
        ("trace.timestamp_ms > 'soon'", "number"),
        ("tags.a = 'x' OR tags.b = 'y'", "OR is not supported"),
    ):
        with pytest.raises(MlflowException) as caught:
            client.search_traces(locations=[experiment.experiment_id], filter_string=text)
        assert caught.value.error_code == "INVALID_PARAMETER_VALUE", text
        assert words in caught.value.message, (text, caught.value.message)


def test_tags_set_and_deleted(mlflow_server: ServerProcess) -> None:
    mlflow.set_experiment(unique("tags"))
    pipeline("tags")
    flush()
    trace_id = last_trace_id()
    mlflow.set_trace_tag(trace_id, "reviewed", "yes")
    client = MlflowClient()
    assert client.get_trace(trace_id).info.tags["reviewed"] == "yes"
    client.delete_trace_tag(trace_id, "reviewed")
    assert "reviewed" not in client.get_trace(trace_id).info.tags
    with pytest.raises(MlflowException) as caught:
        client.delete_trace_tag(trace_id, "reviewed")
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_feedback_and_expectations(mlflow_server: ServerProcess) -> None:
    mlflow.set_experiment(unique("assess"))
    pipeline("judge me")
    flush()
    trace_id = last_trace_id()
    judge = AssessmentSource(source_type="LLM_JUDGE", source_id="gpt-judge")
    feedback = mlflow.log_feedback(
        trace_id=trace_id, name="relevance", value=0.75, rationale="mostly on topic", source=judge
    )
    expected = mlflow.log_expectation(trace_id=trace_id, name="expected", value={"answer": "JUDGE ME"})
    assert feedback.assessment_id and expected.assessment_id
    found = {a.name: a for a in mlflow.get_trace(trace_id).info.assessments}
    assert found["relevance"].value == 0.75 and found["relevance"].rationale == "mostly on topic"
    assert found["relevance"].source.source_type == "LLM_JUDGE"
    assert found["expected"].value == {"answer": "JUDGE ME"}
    again = mlflow.get_assessment(trace_id, feedback.assessment_id)
    assert again.value == 0.75
    # A person overrides the judge: the judge's stays, no longer valid.
    human = mlflow.override_feedback(
        trace_id=trace_id, assessment_id=feedback.assessment_id, value=0.25, rationale="off topic"
    )
    assert mlflow.get_assessment(trace_id, feedback.assessment_id).valid is False
    assert mlflow.get_assessment(trace_id, human.assessment_id).overrides == feedback.assessment_id
    mlflow.update_assessment(
        trace_id, expected.assessment_id, mlflow.entities.Expectation(name="expected", value={"answer": "no"})
    )
    assert mlflow.get_assessment(trace_id, expected.assessment_id).value == {"answer": "no"}
    mlflow.delete_assessment(trace_id, human.assessment_id)
    assert mlflow.get_assessment(trace_id, feedback.assessment_id).valid is True
    with pytest.raises(MlflowException) as caught:
        mlflow.get_assessment(trace_id, human.assessment_id)
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_traces_of_a_run_and_linked_ones(mlflow_server: ServerProcess) -> None:
    experiment = mlflow.set_experiment(unique("runs"))
    with mlflow.start_run() as run:
        pipeline("inside")
    pipeline("outside")
    flush()
    outside = last_trace_id()
    client = MlflowClient()
    ids = [experiment.experiment_id]
    inside = client.search_traces(locations=ids, run_id=run.info.run_id, include_spans=False)
    assert len(inside) == 1 and inside[0].info.trace_metadata["mlflow.sourceRun"] == run.info.run_id
    client.link_traces_to_run([outside], run_id=run.info.run_id)
    both = client.search_traces(locations=ids, run_id=run.info.run_id, include_spans=False)
    assert {t.info.trace_id for t in both} == {inside[0].info.trace_id, outside}
    by_metadata = client.search_traces(
        locations=ids, filter_string=f"metadata.`mlflow.sourceRun` = '{run.info.run_id}'", include_spans=False
    )
    assert len(by_metadata) == 2


def test_deleted_traces_are_gone(mlflow_server: ServerProcess) -> None:
    experiment = mlflow.set_experiment(unique("delete"))
    pipeline("one")
    flush()
    first = last_trace_id()
    pipeline("two")
    flush()
    second = last_trace_id()
    client = MlflowClient()
    assert client.delete_traces(experiment.experiment_id, trace_ids=[first]) == 1
    with pytest.raises(MlflowException) as caught:
        client.get_trace(first)
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert f"Trace with ID '{first}' not found." in caught.value.message
    remaining = client.search_traces(locations=[experiment.experiment_id], include_spans=False)
    assert [t.info.trace_id for t in remaining] == [second]
    deleted = client.delete_traces(
        experiment.experiment_id, max_timestamp_millis=int(time.time() * 1000) + 1000
    )
    assert deleted == 1


def test_a_large_payload_lives_in_the_artifact_store(mlflow_server: ServerProcess) -> None:
    mlflow.set_experiment(unique("large"))
    text = "x" * 200_000

    @mlflow.trace
    def echo(value: str) -> str:
        return value

    echo(text)
    flush()
    trace_id = last_trace_id()
    (span,) = MlflowClient().get_trace(trace_id).data.spans
    assert span.inputs == {"value": text} and span.outputs == text
    stored = list(mlflow_server.home.rglob(f"{trace_id}/spans/{span.span_id}.json"))
    assert len(stored) == 1 and stored[0].stat().st_size > 400_000


def test_otlp_json_protobuf_and_bad_bodies(mlflow_server: ServerProcess) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    experiment = mlflow.set_experiment(unique("otlp"))
    url = f"{mlflow_server.url}/v1/traces"
    headers = {**AUTH, "x-mlflow-experiment-id": experiment.experiment_id}
    version = httpx.get(f"{mlflow_server.url}/version", headers=AUTH)
    assert version.status_code == 200 and version.text.startswith("3.17")
    trace_hex = uuid.uuid4().hex
    now = time.time_ns()
    body = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": trace_hex,
                                "spanId": "0102030405060708",
                                "name": "otel-root",
                                "startTimeUnixNano": str(now),
                                "endTimeUnixNano": str(now + 2_000_000),
                                "attributes": [{"key": "n", "value": {"intValue": "7"}}],
                                "status": {"code": 1},
                            }
                        ]
                    }
                ],
            }
        ]
    }
    sent = httpx.post(url, json=body, headers=headers)
    assert sent.status_code == 200, sent.text
    trace = MlflowClient().get_trace(f"tr-{trace_hex}")
    assert trace.info.state.value == "OK" and trace.info.execution_duration == 2
    assert trace.data.spans[0].name == "otel-root" and trace.data.spans[0].attributes["n"] == 7
    # protobuf, as any OpenTelemetry exporter sends it
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = bytes.fromhex(uuid.uuid4().hex), b"\x01" * 8, "pb"
    span.start_time_unix_nano, span.end_time_unix_nano = now, now + 1_000_000
    sent = httpx.post(
        url,
        content=request.SerializeToString(),
        headers={**headers, "content-type": "application/x-protobuf"},
    )
    assert sent.status_code == 200, sent.text
    assert MlflowClient().get_trace(f"tr-{span.trace_id.hex()}").data.spans[0].name == "pb"
    for content, kind in ((b"\x0a\xff\xff", "application/x-protobuf"), (b"{not json", "application/json")):
        refused = httpx.post(url, content=content, headers={**headers, "content-type": kind})
        assert refused.status_code == 400, refused.text
        assert refused.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    anonymous = httpx.post(url, json=body)
    assert anonymous.status_code == 401
    no_experiment = httpx.post(
        url, json={**body, "resourceSpans": []}, headers=AUTH
    )  # nothing to store: fine without the header
    assert no_experiment.status_code == 200


def test_unknown_trace_answers_mlflows_error(mlflow_server: ServerProcess) -> None:
    missing = "tr-" + "0" * 31 + "1"
    with pytest.raises(MlflowException) as caught:
        MlflowClient().get_trace(missing)
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    answer = httpx.get(f"{mlflow_server.url}/api/3.0/mlflow/traces/{missing}", headers=AUTH)
    assert answer.status_code == 404
    assert answer.json() == {
        "error_code": "RESOURCE_DOES_NOT_EXIST",
        "message": f"Trace with ID '{missing}' not found.",
    }


def test_feedback_logged_while_the_trace_is_open_arrives_with_it(mlflow_server: ServerProcess) -> None:
    mlflow.set_experiment(unique("open-feedback"))

    @mlflow.trace
    def answer() -> str:
        trace_id = mlflow.get_active_trace_id()
        assert trace_id is not None
        mlflow.log_feedback(trace_id=trace_id, name="inline", value=True, rationale="said while running")
        return "ok"

    answer()
    flush()
    (found,) = mlflow.get_trace(last_trace_id()).info.assessments
    assert (found.name, found.value, found.rationale) == ("inline", True, "said while running")
    assert found.assessment_id


def test_many_quick_traces_all_keep_their_spans(mlflow_server: ServerProcess) -> None:
    """The client sends span batches and trace infos from ten threads at once, so they race
    to create each trace (on PostgreSQL, in concurrent transactions): none may be lost."""
    experiment = mlflow.set_experiment(unique("burst"))
    made = []
    for i in range(60):
        with mlflow.start_span(f"quick-{i}") as span:
            span.set_inputs({"i": i})
        made.append(span.trace_id)
    flush()
    found = MlflowClient().search_traces(locations=[experiment.experiment_id], max_results=100)
    assert sorted(t.info.trace_id for t in found) == sorted(made)
    assert all(len(t.data.spans) == 1 and t.data.spans[0].inputs is not None for t in found)


def test_traces_of_a_logged_model_are_found_by_its_id(mlflow_server: ServerProcess) -> None:
    experiment = mlflow.set_experiment(unique("model-traces"))
    model = mlflow.set_active_model(name=unique("agent"))
    try:
        pipeline("as the agent")
        flush()
    finally:
        mlflow.clear_active_model()
    trace_id = last_trace_id()
    assert mlflow.get_trace(trace_id).info.trace_metadata["mlflow.modelId"] == model.model_id
    found = mlflow.search_traces(
        locations=[experiment.experiment_id], model_id=model.model_id, return_type="list"
    )
    assert [t.info.trace_id for t in found] == [trace_id]


def test_filter_correlation(mlflow_server: ServerProcess) -> None:
    from mlflow.tracing.client import TracingClient

    experiment = mlflow.set_experiment(unique("correlation"))
    for i in range(8):
        with mlflow.start_span(f"c-{i}"):
            slow, failed = i < 4, i < 3
            mlflow.update_current_trace(
                tags={"speed": "slow" if slow else "fast", "outcome": "bad" if failed else "good"}
            )
    flush()
    found = TracingClient().calculate_trace_filter_correlation(
        experiment_ids=[experiment.experiment_id],
        filter_string1="tags.speed = 'slow'",
        filter_string2="tags.outcome = 'bad'",
    )
    assert (found.total_count, found.filter1_count, found.filter2_count, found.joint_count) == (8, 4, 3, 3)
    assert 0.5 < found.npmi <= 1.0
    with pytest.raises(MlflowException) as caught:
        TracingClient().calculate_trace_filter_correlation(
            experiment_ids=[experiment.experiment_id],
            filter_string1="tags.a = ",
            filter_string2="tags.b = 'x'",
        )
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"


def test_prompt_links_and_the_fuller_search_grammar(mlflow_server: ServerProcess) -> None:
    """The client's LinkPromptsToTrace message, then searches by prompt, feedback,
    expectation, RLIKE, span attributes and full text, as ``mlflow.search_traces`` sends them."""
    from mlflow.entities.model_registry import PromptVersion
    from mlflow.tracking import _get_store

    experiment = mlflow.set_experiment(unique("grammar"))
    pipeline("why")
    flush()
    trace_id = last_trace_id()
    with mlflow.start_span("other"):
        pass
    flush()
    # The tracking store's own call (the registry's wrapper would swallow a refusal).
    _get_store().link_prompts_to_trace(trace_id, [PromptVersion("qa-prompt", 2, template="")])
    tags = mlflow.get_trace(trace_id).info.tags
    assert tags["mlflow.linkedPrompts"] == '[{"name": "qa-prompt", "version": "2"}]'
    mlflow.log_feedback(trace_id=trace_id, name="correct", value="yes")
    mlflow.log_feedback(trace_id=trace_id, name="score", value=0.75)
    mlflow.log_expectation(trace_id=trace_id, name="answer", value="WHY")

    def found(text: str) -> list[str]:
        traces = mlflow.search_traces(
            locations=[experiment.experiment_id], filter_string=text, return_type="list"
        )
        return [t.info.trace_id for t in traces]

    for text in (
        "prompt = 'qa-prompt/2'",
        "feedback.correct = 'yes' AND feedback.score > 0.5",
        "expectation.answer = 'WHY'",
        "trace.name RLIKE '^pipe' AND tags.`mlflow.traceName` RLIKE 'line$'",
        "span.attributes.k = '3' AND span.type = 'RETRIEVER'",
        "span.attributes.mlflow.spanInputs LIKE '%why%'",
        "trace.text LIKE '%shipyard%'",
    ):
        assert found(text) == [trace_id], text
    assert found("feedback.score > 0.9") == [] and found("prompt = 'qa-prompt/1'") == []
    assert len(found("feedback.correct IS NULL")) == 1
    with pytest.raises(MlflowException) as caught:
        found("tags.env RLIKE '(a+)+$'")
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"


def test_a_prompt_loaded_inside_a_trace_is_linked_to_it(mlflow_server: ServerProcess) -> None:
    experiment = mlflow.set_experiment(unique("prompt-registry"))
    name = unique("greeting").replace("-", "_")
    mlflow.genai.register_prompt(name=name, template="Hello {{who}}!")

    @mlflow.trace
    def greet(who: str) -> str:
        return str(mlflow.genai.load_prompt(f"prompts:/{name}/1").format(who=who))

    assert greet("bob") == "Hello bob!"
    flush()
    trace_id = last_trace_id()
    deadline = time.monotonic() + 10  # the client links in a background thread
    while "mlflow.linkedPrompts" not in mlflow.get_trace(trace_id).info.tags and time.monotonic() < deadline:
        time.sleep(0.1)
    traces = mlflow.search_traces(
        locations=[experiment.experiment_id], filter_string=f"prompt = '{name}/1'", return_type="list"
    )
    assert [t.info.trace_id for t in traces] == [trace_id]


def test_trace_metrics_through_the_clients_store(mlflow_server: ServerProcess) -> None:
    # MlflowClient has no method for it: the UI and the store's query_trace_metrics call the route
    from mlflow.entities.trace_metrics import AggregationType, MetricAggregation, MetricViewType

    experiment_id = mlflow.set_experiment(unique("trace-metrics")).experiment_id
    pipeline("a")
    pipeline("b")
    flush()
    store = MlflowClient()._tracking_client.store
    count = MetricAggregation(AggregationType.COUNT)
    traces = store.query_trace_metrics([experiment_id], MetricViewType.TRACES, "trace_count", [count])
    assert [(p.dimensions, p.values) for p in traces] == [({}, {"COUNT": 2.0})] and traces.token is None
    # the client JSON-encodes span types; they are counted and filtered as MLflow's server does
    tools = store.query_trace_metrics(
        [experiment_id],
        MetricViewType.SPANS,
        "span_count",
        [count],
        dimensions=["span_type"],
        filters=["span.type = 'TOOL'"],
    )
    assert [(p.dimensions, p.values) for p in tools] == [({"span_type": "TOOL"}, {"COUNT": 2.0})]
    median = MetricAggregation(AggregationType.PERCENTILE, 50.0)
    (latency,) = store.query_trace_metrics([experiment_id], MetricViewType.TRACES, "latency", [median])
    assert set(latency.values) == {"P50.0"} and latency.values["P50.0"] >= 0
    with pytest.raises(MlflowException) as caught:
        store.query_trace_metrics([experiment_id], MetricViewType.SPANS, "trace_count", [count])
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "metric_name must be one of" in caught.value.message
