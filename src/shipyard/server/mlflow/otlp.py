"""OpenTelemetry span ingest (``POST /v1/traces``, OTLP/HTTP) and ``GET /version``.

The MLflow client exports each span here as it ends (``log_spans``), but only after asking
``/version`` whether the server is MLflow 3.4 or newer: without that route it gives up with
"could not identify MLflow server version". ``/version`` answers, in plain text as MLflow's
server does, the MLflow version whose API this server implements.

Any OTLP/HTTP exporter may send here too (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``), with
the experiment in the ``x-mlflow-experiment-id`` header: protobuf or JSON bodies, plain,
gzip or deflate. A body that does not parse is a 400; one past the server's JSON limit
(``--max-json-bytes``, compressed or not) a 413.
"""

from __future__ import annotations

import zlib

import orjson
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from shipyard.domain.context import RequestContext
from shipyard.domain.otlp import ResourceSpans, decode_json, decode_protobuf
from shipyard.errors import InvalidArgument, PayloadTooLarge
from shipyard.server.deps import Ctx, Services, Svc
from shipyard.server.mlflow._route import MlflowRoute
from shipyard.server.mlflow.experiments import resolve_experiment_id
from shipyard.services.traces import TraceService

__all__ = ["MLFLOW_API_VERSION", "router"]

MLFLOW_API_VERSION = "3.17.0"
EXPERIMENT_HEADER = "x-mlflow-experiment-id"

# MLflow's and OpenTelemetry's protocols, not the native contract: out of the OpenAPI document, as the
# rest of the MLflow API is (server/mlflow/__init__.py).
router = APIRouter(route_class=MlflowRoute, include_in_schema=False)


@router.get("/version")
def version() -> Response:
    return Response(MLFLOW_API_VERSION, media_type="text/plain")


def _inflate(body: bytes, encoding: str, limit: int) -> bytes:
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise InvalidArgument(f"Content-Encoding {encoding!r} is not supported; send gzip, deflate or none")
    # zlib's window bits: 16+ reads gzip, a negative value raw deflate, else zlib-wrapped.
    tries = (16 + zlib.MAX_WBITS,) if encoding == "gzip" else (zlib.MAX_WBITS, -zlib.MAX_WBITS)
    for bits in tries:
        inflater = zlib.decompressobj(bits)
        try:
            out = inflater.decompress(body, limit + 1)
        except zlib.error:
            continue
        if len(out) > limit or inflater.unconsumed_tail:
            raise PayloadTooLarge(f"the OTLP body inflates past this server's limit of {limit} bytes")
        return out
    raise InvalidArgument(f"the OTLP body is not valid {encoding} data")


def _decode(body: bytes, content_type: str) -> list[ResourceSpans]:
    if content_type == "application/json":
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise InvalidArgument(f"the OTLP body is not valid JSON: {exc}") from None
        return decode_json(data)
    if content_type in ("application/x-protobuf", "application/protobuf", ""):
        return decode_protobuf(body)
    raise InvalidArgument(f"OTLP bodies are application/x-protobuf or application/json; got {content_type!r}")


def _ingest(
    ctx: RequestContext, svc: Services, experiment: str | None, body: bytes, content_type: str
) -> None:
    blocks = _decode(body, content_type)
    experiment_id = resolve_experiment_id(ctx, svc.tracking, experiment) if experiment else None
    svc.get("traces", TraceService).log_spans(ctx, experiment_id, blocks)


@router.post("/v1/traces")
async def export_traces(request: Request, ctx: Ctx, svc: Svc) -> Response:
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    limit: int = request.app.state.settings.max_json_bytes
    body = _inflate(await request.body(), request.headers.get("content-encoding", "").strip().lower(), limit)
    experiment = request.headers.get(EXPERIMENT_HEADER) or None
    await run_in_threadpool(_ingest, ctx, svc, experiment, body, content_type)
    # An ExportTraceServiceResponse with nothing rejected: empty, in the request's encoding.
    if content_type == "application/json":
        return Response(b"{}", media_type="application/json")
    return Response(b"", media_type="application/x-protobuf")
