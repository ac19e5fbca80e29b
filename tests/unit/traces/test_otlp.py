"""The hand-written OTLP reader against the reference encoder (opentelemetry-proto, which the
mlflow client brings): the same spans from protobuf and from JSON, and a 400 (never another
exception) for every malformed body."""

from __future__ import annotations

import base64
import math

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from shipyard.domain.otlp import decode_json, decode_protobuf
from shipyard.errors import InvalidArgument

TRACE = bytes(range(1, 17))
SPAN = bytes(range(1, 9))
PARENT = bytes(range(9, 17))


def _request() -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    block = request.resource_spans.add()
    block.resource.attributes.add(key="service.name", value=AnyValue(string_value="svc"))
    span = block.scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.parent_span_id = TRACE, SPAN, PARENT
    span.name, span.trace_state = "llm call", "k=v"
    span.start_time_unix_nano, span.end_time_unix_nano = 1_700_000_000_000_000_000, 1_700_000_000_500_000_000
    span.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR, message="boom"))
    nested = AnyValue()
    nested.kvlist_value.values.add(key="messages", value=AnyValue(string_value="hi"))
    nested.kvlist_value.values.add(key="n", value=AnyValue(int_value=-3))
    span.attributes.extend(
        [
            KeyValue(key="mlflow.spanInputs", value=nested),
            KeyValue(key="mlflow.spanOutputs", value=AnyValue(double_value=0.5)),
            KeyValue(key="mlflow.spanType", value=AnyValue(string_value="LLM")),
            KeyValue(key="flag", value=AnyValue(bool_value=True)),
            KeyValue(key="blob", value=AnyValue(bytes_value=b"\x00\x01")),
            KeyValue(key="unset", value=AnyValue()),
        ]
    )
    array = AnyValue()
    array.array_value.values.add(string_value="a")
    array.array_value.values.add(int_value=2)
    span.attributes.add(key="list", value=array)
    event = span.events.add()
    event.name, event.time_unix_nano = "exception", 1_700_000_000_100_000_000
    event.attributes.add(key="exception.message", value=AnyValue(string_value="boom"))
    return request


def test_protobuf_spans_decode_whole() -> None:
    (block,) = decode_protobuf(_request().SerializeToString())
    assert block.resource == {"service.name": "svc"}
    (span,) = block.spans
    assert span.trace_id == "tr-" + TRACE.hex() and span.span_id == SPAN.hex()
    assert span.parent_span_id == PARENT.hex() and span.trace_state == "k=v"
    assert (span.name, span.status_code, span.status_message) == ("llm call", "ERROR", "boom")
    assert (span.start_time_ns, span.end_time_ns) == (1_700_000_000_000_000_000, 1_700_000_000_500_000_000)
    assert span.inputs == {"messages": "hi", "n": -3} and span.outputs == 0.5
    assert span.span_type == "LLM"
    assert span.attributes == {
        "mlflow.spanType": "LLM",
        "flag": True,
        "blob": base64.b64encode(b"\x00\x01").decode(),
        "unset": None,
        "list": ["a", 2],
    }
    assert span.events == [
        {
            "name": "exception",
            "time_unix_nano": 1_700_000_000_100_000_000,
            "attributes": {"exception.message": "boom"},
        }
    ]


def test_json_spans_decode_like_protobuf() -> None:
    from google.protobuf.json_format import MessageToDict

    data = MessageToDict(_request())  # protobuf's mapping: base64 ids, lowerCamelCase
    from_json = decode_json(data)[0].spans[0]
    from_pb = decode_protobuf(_request().SerializeToString())[0].spans[0]
    assert from_json == from_pb
    # OTLP/JSON proper spells ids in hex
    span = data["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span.update(traceId=TRACE.hex(), spanId=SPAN.hex(), parentSpanId=PARENT.hex())
    assert decode_json(data)[0].spans[0] == from_pb


def test_a_root_span_and_an_open_span() -> None:
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.start_time_unix_nano = TRACE, SPAN, 5
    (decoded,) = decode_protobuf(request.SerializeToString())[0].spans
    assert decoded.parent_span_id is None and decoded.end_time_ns is None and decoded.status_code == "UNSET"


def _with(mutate: object) -> bytes:
    request = _request()
    span = request.resource_spans[0].scope_spans[0].spans[0]
    mutate(span)  # type: ignore[operator]
    return request.SerializeToString()


@pytest.mark.parametrize(
    "body",
    [
        b"\x0a",  # a field with no length
        b"\x0a\x05\x01",  # length past the end
        b"\x0b",  # wire type 3 (groups)
        b"\x08" + b"\xff" * 11,  # a varint without end
        _request().SerializeToString()[:-3],  # cut short
        _with(lambda s: setattr(s, "trace_id", b"\x01" * 8)),
        _with(lambda s: setattr(s, "trace_id", b"\x00" * 16)),
        _with(lambda s: setattr(s, "span_id", b"")),
        _with(lambda s: setattr(s, "parent_span_id", b"\x01" * 3)),
        _with(lambda s: setattr(s, "start_time_unix_nano", 2**64 - 1)),
        _with(lambda s: s.attributes.add(key="bad", value=AnyValue(string_value="x")) and None)[:-1]
        + b"\xff",
    ],
)
def test_malformed_protobuf_is_a_400(body: bytes) -> None:
    with pytest.raises(InvalidArgument, match="not a valid ExportTraceServiceRequest"):
        decode_protobuf(body)


def test_wrong_wire_types_and_deep_values_are_400s() -> None:
    # field 7 (start time) sent length-delimited; a double sent as a varint; 40 nested arrays
    span_bytes = PbSpan(trace_id=TRACE, span_id=SPAN).SerializeToString() + b"\x3a\x01\x00"
    body = ExportTraceServiceRequest().SerializeToString()
    wrapped = _nest(_nest(span_bytes, 2), 2)  # ScopeSpans.spans, ResourceSpans.scope_spans
    with pytest.raises(InvalidArgument):
        decode_protobuf(body + _nest(wrapped, 1))
    double_as_varint = KeyValue(key="d").SerializeToString() + _nest(b"\x20\x05", 2)
    attr_span = PbSpan(trace_id=TRACE, span_id=SPAN).SerializeToString() + _nest(double_as_varint, 9)
    with pytest.raises(InvalidArgument, match="64-bit"):
        decode_protobuf(_nest(_nest(_nest(attr_span, 2), 2), 1))
    deep = AnyValue(string_value="x")
    for _ in range(40):
        outer = AnyValue()
        outer.array_value.values.append(deep)
        deep = outer
    request = _request()
    request.resource_spans[0].scope_spans[0].spans[0].attributes.add(key="deep", value=deep)
    with pytest.raises(InvalidArgument, match="nests deeper"):
        decode_protobuf(request.SerializeToString())


def _nest(payload: bytes, field: int) -> bytes:
    size, out = len(payload), bytearray()
    while True:
        byte = size & 0x7F
        size >>= 7
        out.append(byte | (0x80 if size else 0))
        if not size:
            break
    return bytes([field << 3 | 2]) + bytes(out) + payload


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"resourceSpans": [1]},
        {"resourceSpans": [{"scopeSpans": [{"spans": ["x"]}]}]},
        {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz", "spanId": "0102030405060708"}]}]}]},
        {
            "resourceSpans": [
                {
                    "scopeSpans": [
                        {
                            "spans": [
                                {"traceId": TRACE.hex(), "spanId": SPAN.hex(), "startTimeUnixNano": "soon"}
                            ]
                        }
                    ]
                }
            ]
        },
        {
            "resourceSpans": [
                {
                    "scopeSpans": [
                        {"spans": [{"traceId": TRACE.hex(), "spanId": SPAN.hex(), "attributes": {"a": 1}}]}
                    ]
                }
            ]
        },
        {
            "resourceSpans": [
                {
                    "scopeSpans": [
                        {
                            "spans": [
                                {"traceId": TRACE.hex(), "spanId": SPAN.hex(), "attributes": [{"key": 1}]}
                            ]
                        }
                    ]
                }
            ]
        },
    ],
)
def test_malformed_json_is_a_400(data: object) -> None:
    with pytest.raises(InvalidArgument):
        decode_json(data)


def test_json_numbers_and_specials() -> None:
    span = {
        "traceId": TRACE.hex(),
        "spanId": SPAN.hex(),
        "startTimeUnixNano": 10,
        "status": {"code": "STATUS_CODE_OK"},
        "attributes": [
            {"key": "i", "value": {"intValue": "9007199254740993"}},
            {"key": "d", "value": {"doubleValue": "NaN"}},
        ],
    }
    (decoded,) = decode_json({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]})[0].spans
    assert decoded.status_code == "OK" and decoded.attributes["i"] == 9007199254740993
    assert math.isnan(decoded.attributes["d"])
