"""OTLP/HTTP trace bodies (``ExportTraceServiceRequest``) → spans, in protobuf or JSON.

The protobuf wire format is read by hand: the message has a dozen fields, and a reader of
~100 lines spares the server the ``protobuf`` and ``opentelemetry-proto`` packages (core
imports stay light). Field numbers are those of ``opentelemetry/proto/trace/v1/trace.proto``
and ``common/v1/common.proto``. Anything that does not parse is :class:`InvalidArgument`
(a 400), never an exception of ours.

OTLP/JSON spells ids in hex and fields in lowerCamelCase; protobuf's JSON mapping (base64
ids, snake_case) is accepted too, as collectors send either.
"""

from __future__ import annotations

import base64
import binascii
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from shipyard.domain.traces import INPUTS_ATTRIBUTE, OUTPUTS_ATTRIBUTE, Span, otel_trace_id
from shipyard.errors import InvalidArgument

__all__ = ["ResourceSpans", "decode_json", "decode_protobuf", "span_from_parts"]

_MAX_DEPTH = 32  # nested arrays and key-value lists in one attribute value
_STATUS = {0: "UNSET", 1: "OK", 2: "ERROR"}
_STATUS_NAMES = {"STATUS_CODE_UNSET": "UNSET", "STATUS_CODE_OK": "OK", "STATUS_CODE_ERROR": "ERROR"}


def _bad(why: str) -> InvalidArgument:
    return InvalidArgument(f"the OTLP body is not a valid ExportTraceServiceRequest: {why}")


@dataclass(slots=True)
class ResourceSpans:
    """The spans of one ``ResourceSpans`` block and the attributes of its resource."""

    resource: dict[str, Any] = field(default_factory=dict)
    spans: list[Span] = field(default_factory=list)


# -- protobuf ----------------------------------------------------------------------------


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise _bad("a varint runs past the end of its message")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value): an int for varints and fixed-size fields, bytes
    for length-delimited ones."""
    pos = 0
    value: Any
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            if pos + 8 > len(buf):
                raise _bad("a 64-bit field runs past the end of its message")
            value, pos = int.from_bytes(buf[pos : pos + 8], "little"), pos + 8
        elif wire == 2:
            size, pos = _varint(buf, pos)
            if pos + size > len(buf):
                raise _bad("a length-delimited field runs past the end of its message")
            value, pos = buf[pos : pos + size], pos + size
        elif wire == 5:
            if pos + 4 > len(buf):
                raise _bad("a 32-bit field runs past the end of its message")
            value, pos = int.from_bytes(buf[pos : pos + 4], "little"), pos + 4
        else:
            raise _bad(f"wire type {wire} (field {number}) is not one OTLP uses")
        if number == 0:
            raise _bad("field number 0")
        yield number, wire, value


def _text(value: Any) -> str:
    if not isinstance(value, bytes):
        raise _bad("a string field has a numeric wire type")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad("a string field is not UTF-8") from None


def _number(value: Any) -> int:
    if not isinstance(value, int):
        raise _bad("a numeric field has a length-delimited wire type")
    return value


def _blob(value: Any) -> bytes:
    if not isinstance(value, bytes):
        raise _bad("a message or bytes field has a numeric wire type")
    return value


def _any_value(buf: bytes, depth: int = 0) -> Any:
    if depth > _MAX_DEPTH:
        raise _bad(f"an attribute value nests deeper than {_MAX_DEPTH} levels")
    found: Any = None
    for number, wire, value in _fields(buf):
        if number == 1:
            found = _text(value)
        elif number == 2:
            found = bool(_number(value))
        elif number == 3:
            found = _number(value) - (1 << 64) if _number(value) >= 1 << 63 else value
        elif number == 4:
            if wire != 1:
                raise _bad("a double attribute value is not a 64-bit field")
            found = struct.unpack("<d", _number(value).to_bytes(8, "little"))[0]
        elif number == 5:
            found = [_any_value(_blob(v), depth + 1) for n, _, v in _fields(_blob(value)) if n == 1]
        elif number == 6:
            found = _key_values(_blob(value), depth + 1)
        elif number == 7:
            found = base64.b64encode(_blob(value)).decode()  # JSON has no bytes: kept as base64
    return found


def _key_values(buf: bytes, depth: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for number, _, value in _fields(buf):
        if number == 1:
            key, item = _key_value(_blob(value), depth)
            out[key] = item
    return out


def _key_value(buf: bytes, depth: int) -> tuple[str, Any]:
    key, item = "", None
    for number, _, value in _fields(buf):
        if number == 1:
            key = _text(value)
        elif number == 2:
            item = _any_value(_blob(value), depth)
    return key, item


def _attributes(values: list[bytes]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for buf in values:
        key, item = _key_value(buf, 0)
        out[key] = item
    return out


def _event(buf: bytes) -> dict[str, Any]:
    event: dict[str, Any] = {"name": "", "time_unix_nano": 0, "attributes": {}}
    attributes: list[bytes] = []
    for number, _, value in _fields(buf):
        if number == 1:
            event["time_unix_nano"] = _number(value)
        elif number == 2:
            event["name"] = _text(value)
        elif number == 3:
            attributes.append(_blob(value))
    event["attributes"] = _attributes(attributes)
    return event


_SPAN_BYTES = {1: "trace_id", 2: "span_id", 4: "parent_span_id"}
_SPAN_TEXT = {3: "trace_state", 5: "name"}
_SPAN_TIMES = {7: "start", 8: "end"}


def _status(parts: dict[str, Any], buf: bytes) -> None:
    for number, _, value in _fields(buf):
        if number == 2:
            parts["status_message"] = _text(value)
        elif number == 3:
            parts["status"] = _STATUS.get(_number(value), "UNSET")


def _span(buf: bytes) -> Span:
    parts: dict[str, Any] = {"events": []}
    attributes: list[bytes] = []
    for number, _, value in _fields(buf):
        if number in _SPAN_BYTES:
            parts[_SPAN_BYTES[number]] = _blob(value)
        elif number in _SPAN_TEXT:
            parts[_SPAN_TEXT[number]] = _text(value)
        elif number in _SPAN_TIMES:
            parts[_SPAN_TIMES[number]] = _number(value)
        elif number == 9:
            attributes.append(_blob(value))
        elif number == 11:
            parts["events"].append(_event(_blob(value)))
        elif number == 15:
            _status(parts, _blob(value))
    parts["attributes"] = _attributes(attributes)
    return span_from_parts(parts)


def decode_protobuf(body: bytes) -> list[ResourceSpans]:
    out: list[ResourceSpans] = []
    for number, _, value in _fields(body):
        if number != 1:
            continue
        block = ResourceSpans()
        for n, _, v in _fields(_blob(value)):
            if n == 1:
                block.resource = _attributes([_blob(a) for k, _, a in _fields(_blob(v)) if k == 1])
            elif n == 2:
                block.spans.extend(_span(_blob(s)) for k, _, s in _fields(_blob(v)) if k == 2)
        out.append(block)
    return out


# -- JSON --------------------------------------------------------------------------------


def _get(data: dict[str, Any], camel: str, snake: str) -> Any:
    return data[camel] if camel in data else data.get(snake)


def _id(value: Any, size: int, what: str) -> bytes:
    if value in (None, ""):
        return b""
    if not isinstance(value, str):
        raise _bad(f"{what} must be a string of hex digits")
    if len(value) == 2 * size:
        try:
            return bytes.fromhex(value)
        except ValueError:
            pass
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _bad(f"{what} {value[:40]!r} is neither hex nor base64") from None


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _bad(f"{what} must be an integer (or a string of digits)")
    try:
        return int(value)
    except ValueError:
        raise _bad(f"{what} must be an integer; got {str(value)[:40]!r}") from None


def _json_any(value: Any, depth: int = 0) -> Any:
    if depth > _MAX_DEPTH:
        raise _bad(f"an attribute value nests deeper than {_MAX_DEPTH} levels")
    if not isinstance(value, dict) or not value:
        return None
    for camel, snake in (
        ("stringValue", "string_value"),
        ("boolValue", "bool_value"),
        ("intValue", "int_value"),
        ("doubleValue", "double_value"),
        ("arrayValue", "array_value"),
        ("kvlistValue", "kvlist_value"),
        ("bytesValue", "bytes_value"),
    ):
        if camel not in value and snake not in value:
            continue
        raw = _get(value, camel, snake)
        if camel == "intValue":
            return _int(raw, "an intValue")
        if camel == "doubleValue":
            return float(raw) if isinstance(raw, int | float | str) else None
        if camel == "arrayValue":
            items = raw.get("values", []) if isinstance(raw, dict) else []
            return [_json_any(v, depth + 1) for v in items]
        if camel == "kvlistValue":
            items = raw.get("values", []) if isinstance(raw, dict) else []
            return _json_attributes(items, depth + 1)
        return raw
    return None


def _json_attributes(items: Any, depth: int = 0) -> dict[str, Any]:
    if not isinstance(items, list):
        raise _bad("attributes must be a list of {key, value}")
    out: dict[str, Any] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise _bad("each attribute is an object with a string key")
        out[item["key"]] = _json_any(item.get("value"), depth)
    return out


def _json_span(data: Any) -> Span:
    if not isinstance(data, dict):
        raise _bad("each span must be an object")
    status = data.get("status") or {}
    code = status.get("code", 0) if isinstance(status, dict) else 0
    events = []
    for event in data.get("events") or []:
        if not isinstance(event, dict):
            raise _bad("each event must be an object")
        events.append(
            {
                "name": str(event.get("name", "")),
                "time_unix_nano": _int(_get(event, "timeUnixNano", "time_unix_nano") or 0, "timeUnixNano"),
                "attributes": _json_attributes(event.get("attributes") or []),
            }
        )
    parts = {
        "trace_id": _id(_get(data, "traceId", "trace_id"), 16, "traceId"),
        "span_id": _id(_get(data, "spanId", "span_id"), 8, "spanId"),
        "parent_span_id": _id(_get(data, "parentSpanId", "parent_span_id"), 8, "parentSpanId"),
        "trace_state": _get(data, "traceState", "trace_state") or None,
        "name": data.get("name", ""),
        "start": _int(_get(data, "startTimeUnixNano", "start_time_unix_nano") or 0, "startTimeUnixNano"),
        "end": _int(_get(data, "endTimeUnixNano", "end_time_unix_nano") or 0, "endTimeUnixNano"),
        "attributes": _json_attributes(data.get("attributes") or []),
        "events": events,
        "status": _STATUS_NAMES.get(code, "UNSET") if isinstance(code, str) else _STATUS.get(code, "UNSET"),
        "status_message": status.get("message") if isinstance(status, dict) else None,
    }
    return span_from_parts(parts)


def decode_json(data: Any) -> list[ResourceSpans]:
    if not isinstance(data, dict):
        raise _bad("the body must be a JSON object with resourceSpans")
    out: list[ResourceSpans] = []
    for block in _get(data, "resourceSpans", "resource_spans") or []:
        if not isinstance(block, dict):
            raise _bad("each resourceSpans item must be an object")
        resource = block.get("resource") or {}
        found = ResourceSpans(
            resource=_json_attributes(resource.get("attributes") or []) if isinstance(resource, dict) else {}
        )
        for scope in _get(block, "scopeSpans", "scope_spans") or []:
            if not isinstance(scope, dict):
                raise _bad("each scopeSpans item must be an object")
            found.spans.extend(_json_span(s) for s in scope.get("spans") or [])
        out.append(found)
    return out


# -- both --------------------------------------------------------------------------------


def span_from_parts(parts: dict[str, Any]) -> Span:
    """A span from the fields either decoder read (ids as bytes, times as ints)."""
    trace_id, span_id = parts.get("trace_id", b""), parts.get("span_id", b"")
    if len(trace_id) != 16 or not any(trace_id):
        raise _bad("a span's trace id must be 16 bytes, not all zero")
    if len(span_id) != 8 or not any(span_id):
        raise _bad("a span's span id must be 8 bytes, not all zero")
    parent = parts.get("parent_span_id") or b""
    if parent and len(parent) != 8:
        raise _bad("a span's parent span id must be 8 bytes")
    name = parts.get("name", "")
    if not isinstance(name, str):
        raise _bad("a span's name must be a string")
    start, end = parts.get("start", 0), parts.get("end", 0)
    if not 0 <= start < 1 << 63 or not 0 <= end < 1 << 63:
        raise _bad("span times must be nanoseconds since the epoch that fit in 63 bits")
    attributes = dict(parts.get("attributes", {}))
    inputs = attributes.pop(INPUTS_ATTRIBUTE, None)
    outputs = attributes.pop(OUTPUTS_ATTRIBUTE, None)
    message = parts.get("status_message")
    return Span(
        trace_id=otel_trace_id(trace_id),
        span_id=span_id.hex(),
        parent_span_id=parent.hex() if parent else None,
        name=name,
        start_time_ns=start,
        end_time_ns=end or None,
        status_code=parts.get("status", "UNSET"),
        status_message=message if isinstance(message, str) and message else None,
        trace_state=parts.get("trace_state") or None,
        attributes=attributes,
        inputs=inputs,
        outputs=outputs,
        events=parts.get("events", []),
    )
