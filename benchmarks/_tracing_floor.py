"""The client's floor for benchmarks/tracing.py: a server that answers the mlflow client's
trace calls at once, from memory, so the figure is what the client itself costs.

    python _tracing_floor.py PORT [RECORD.jsonl]

With ``RECORD.jsonl``, every trace request the client sends (OTLP span batches, trace infos,
searches, batch reads) is also written there, one JSON line each — what
``_tracing_replay.py`` sends again to a real server, without the client.

Not a tracking server: it keeps what it is sent in a list, answers ``start_trace`` with the
info it got (marked as keeping its spans, as both real servers do), and ``search_traces``
with the newest traces, ignoring any filter — enough for the client to do all its own work
(building, sending, parsing 100 traces of spans) with next to nothing on the other side.
Spans are decoded with Shipyard's OTLP decoder and written back as MLflow's JSON (the same
code as the real routes, so the client parses the same answer).
"""

from __future__ import annotations

import base64
import json
import sys
from typing import IO, Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from shipyard.domain.otlp import decode_protobuf
from shipyard.domain.traces import Span
from shipyard.server.mlflow.trace_json import span_out

EXPERIMENT = {"experiment_id": "1", "name": "bench-traces", "lifecycle_stage": "active"}
infos: list[dict[str, Any]] = []
by_id: dict[str, dict[str, Any]] = {}
spans: dict[str, list[Span]] = {}
record: IO[str] | None = None
_KEPT_HEADERS = ("content-type", "content-encoding", "x-mlflow-experiment-id")


def _record(request: Request, body: bytes) -> None:
    if record is None:
        return
    line = {
        "method": request.method,
        "path": request.url.path,
        "query": request.url.query,
        "headers": {k: request.headers[k] for k in _KEPT_HEADERS if k in request.headers},
        "body": base64.b64encode(body).decode(),
    }
    record.write(json.dumps(line) + "\n")


async def experiment(request: Request) -> Response:
    return JSONResponse({"experiment": EXPERIMENT})


async def version(request: Request) -> Response:
    return Response("3.17.0", media_type="text/plain")


async def health(request: Request) -> Response:
    return Response("OK")


async def otlp(request: Request) -> Response:
    body = await request.body()
    _record(request, body)
    for block in decode_protobuf(body):
        for span in block.spans:
            spans.setdefault(span.trace_id, []).append(span)
    return Response(b"", media_type="application/x-protobuf")


async def start_trace(request: Request) -> Response:
    _record(request, await request.body())
    info = (await request.json())["trace"]["trace_info"]
    info.setdefault("tags", {})["mlflow.trace.spansLocation"] = "TRACKING_STORE"
    infos.append(info)
    by_id[info["trace_id"]] = info
    return JSONResponse({"trace": {"trace_info": info}})


async def search(request: Request) -> Response:
    _record(request, await request.body())
    body = await request.json()
    start = int(body.get("page_token") or 0)
    size = int(body.get("max_results") or 100)
    page = infos[::-1][start : start + size]
    out: dict[str, Any] = {"traces": page}
    if start + size < len(infos):
        out["next_page_token"] = str(start + size)
    return JSONResponse(out)


async def batch_get(request: Request) -> Response:
    _record(request, await request.body())
    wanted = [by_id[i] for i in request.query_params.getlist("trace_ids") if i in by_id]
    found = [
        {"trace_info": info, "spans": [span_out(s) for s in spans.get(info["trace_id"], [])]}
        for info in wanted
    ]
    return Response(orjson.dumps({"traces": found}), media_type="application/json")


app = Starlette(
    routes=[
        Route("/health", health),
        Route("/version", version),
        Route("/api/2.0/mlflow/experiments/get-by-name", experiment),
        Route("/api/2.0/mlflow/experiments/get", experiment),
        Route("/api/2.0/mlflow/experiments/create", experiment, methods=["POST"]),
        Route("/v1/traces", otlp, methods=["POST"]),
        Route("/api/3.0/mlflow/traces", start_trace, methods=["POST"]),
        Route("/api/3.0/mlflow/traces/search", search, methods=["POST"]),
        Route("/api/3.0/mlflow/traces/batchGet", batch_get),
    ]
)

if __name__ == "__main__":
    if len(sys.argv) > 2:
        record = open(sys.argv[2], "a", buffering=1)  # noqa: SIM115 (open while the server runs)
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
