"""The trace pages' view of MLflow's trace JSON (studio/pages/_trace_view.py): the span tree
when a producer sends odd parents (missing, cyclic) or a span that never ended, attribute
values decoded as MLflow's client decodes them, payloads cut, latencies written for people."""

from __future__ import annotations

import base64

from shipyard.domain.traces import Span
from shipyard.studio.pages._trace_view import latency, payload, span_rows, spans_of, trace_view

MS = 1_000_000


def _span(span_id: str, parent: str | None, start_ms: int, end_ms: int | None, name: str = "") -> Span:
    return Span(
        trace_id="tr-" + "1" * 32,
        span_id=span_id,
        parent_span_id=parent,
        name=name or span_id,
        start_time_ns=start_ms * MS,
        end_time_ns=None if end_ms is None else end_ms * MS,
        status_code="OK",
    )


def test_children_follow_their_parent_by_start_time() -> None:
    rows = span_rows(
        [
            _span("root", None, 0, 100),
            _span("late", "root", 50, 100),
            _span("early", "root", 10, 20),
            _span("inner", "early", 12, 18),
        ]
    )
    assert [(r.span.span_id, r.depth) for r in rows] == [("root", 0), ("early", 1), ("inner", 2), ("late", 1)]
    early = rows[1]
    assert (early.left, early.width, early.offset_ms, early.duration_ms) == (10.0, 10.0, 10.0, 10.0)


def test_a_missing_parent_makes_a_root_and_a_cycle_cannot_loop() -> None:
    rows = span_rows(
        [
            _span("orphan", "not-sent", 0, 10),
            _span("a", "b", 20, 30),
            _span("b", "a", 25, 40),
        ]
    )
    assert rows[0].span.span_id == "orphan" and rows[0].depth == 0
    assert sorted(r.span.span_id for r in rows) == ["a", "b", "orphan"]  # each once


def test_a_span_that_never_ended_reaches_the_end_of_the_trace() -> None:
    rows = span_rows([_span("root", None, 0, 100), _span("open", "root", 40, None)])
    opened = rows[1]
    assert opened.duration_ms is None and (opened.left, opened.width) == (40.0, 60.0)
    # a zero-length span still shows a sliver
    assert span_rows([_span("x", None, 5, 5)])[0].width == 0.5


def test_attribute_values_are_decoded_as_mlflows_client_decodes_them() -> None:
    def b64(hex_id: str) -> str:
        return base64.b64encode(bytes.fromhex(hex_id)).decode()

    (span,) = spans_of(
        [
            {
                "trace_id": b64("ab" * 16),
                "span_id": b64("00000000000000a1"),
                "name": "llm",
                "start_time_unix_nano": "1000",
                "end_time_unix_nano": "2000",
                "attributes": [
                    {"key": "mlflow.spanType", "value": {"string_value": '"LLM"'}},
                    {"key": "mlflow.spanInputs", "value": {"string_value": '{"q": "<b>"}'}},
                    {"key": "plain", "value": {"string_value": "not json"}},
                    {"key": "n", "value": {"int_value": "3"}},
                ],
                "status": {"code": "STATUS_CODE_ERROR", "message": "boom"},
            }
        ]
    )
    assert span.span_id == "00000000000000a1" and span.trace_id == "tr-" + "ab" * 16
    assert span.span_type == "LLM" and span.inputs == {"q": "<b>"}
    assert span.attributes == {"mlflow.spanType": "LLM", "plain": "not json", "n": 3}
    assert (span.status_code, span.status_message) == ("ERROR", "boom")


def test_payloads_are_pretty_and_cut_with_their_whole_size() -> None:
    shown = payload({"a": [1, 2]})
    assert shown.text == '{\n  "a": [\n    1,\n    2\n  ]\n}' and not shown.cut
    cut = payload("x" * 50, limit=10)
    assert (cut.text, cut.size, cut.cut) == ("x" * 10, 50, True)


def test_a_trace_info_as_the_api_answers_it() -> None:
    trace = trace_view(
        {
            "trace_id": "tr-1",
            "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": "7"}},
            "request_time": "2025-01-02T03:04:05.678Z",
            "execution_duration": "2.500s",
            "state": "ERROR",
            "tags": {"mlflow.traceName": "rag", "env": "prod"},
            "trace_metadata": {"mlflow.sourceRun": "abc"},
            "assessments": [
                {
                    "assessment_id": "a-1",
                    "assessment_name": "ok",
                    "source": {"source_type": "LLM_JUDGE", "source_id": "j"},
                    "create_time": "2025-01-02T03:04:06.000Z",
                    "feedback": {"error": {"error_code": "E", "error_message": "judge down"}},
                },
                {
                    "assessment_name": "expected",
                    "source": {"source_type": "HUMAN"},
                    "expectation": {
                        "serialized_value": {"serialization_format": "JSON_FORMAT", "value": "[1]"}
                    },
                },
            ],
        }
    )
    assert (trace.experiment_id, trace.name, trace.run_id, trace.duration) == ("7", "rag", "abc", 2500)
    assert trace.request_time == 1735787045678 and trace.user_tags == [("env", "prod")]
    judged, expected = trace.assessments
    assert judged.error == "E: judge down" and judged.value is None and judged.created == 1735787046000
    assert expected.kind == "expectation" and expected.value == "[1]" and expected.source_type == "HUMAN"


def test_latencies_for_people() -> None:
    assert [latency(v) for v in (None, 0, 0.25, 12.4, 2500, 61_000)] == [
        "—",
        "< 1 ms",
        "0.25 ms",
        "12 ms",
        "2.50 s",
        "1m 1s",
    ]
