"""/api/v1/runs/{run_id}/artifacts: streamed upload, download and listing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, BinaryIO

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from shipyard.server.contract import BINARY_ANSWER
from shipyard.server.deps import Ctx, Svc, json_response
from shipyard.server.schemas import ArtifactEntryOut, ArtifactList, ArtifactOut

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/runs", tags=["artifacts"])

_CHUNK = 1 << 20


async def _chunks(handle: BinaryIO) -> AsyncIterator[bytes]:
    # Async, with the reads in the thread pool: a client that goes away mid-download closes
    # the generator, and with it the file, at once (a sync generator would wait for the GC).
    try:
        while chunk := await run_in_threadpool(handle.read, _CHUNK):
            yield chunk
    finally:
        handle.close()


@router.put(
    "/{run_id}/artifacts/{path:path}",
    response_model=ArtifactOut,
    status_code=201,
    summary="Upload one artifact file (raw body, streamed; atomic; sha256 recorded)",
)
async def upload(
    run_id: str,
    path: str,
    request: Request,
    ctx: Ctx,
    svc: Svc,
    x_content_sha256: Annotated[str | None, Header(description="Checked against the received bytes.")] = None,
) -> object:
    record = await svc.artifacts.upload(ctx, run_id, path, request.stream(), x_content_sha256)
    return json_response(ArtifactOut(path=record.path, size=record.size, sha256=record.sha256), 201)


@router.get(
    "/{run_id}/artifacts/{path:path}",
    summary="Download one artifact file (streamed)",
    response_class=StreamingResponse,
    responses=BINARY_ANSWER,
)
async def download(run_id: str, path: str, ctx: Ctx, svc: Svc) -> StreamingResponse:
    handle, record = await run_in_threadpool(svc.artifacts.open, ctx, run_id, path)
    headers = {"X-Content-SHA256": record.sha256} if record else {}
    if record:
        headers["Content-Length"] = str(record.size)
    return StreamingResponse(_chunks(handle), media_type="application/octet-stream", headers=headers)


@router.get("/{run_id}/artifacts", response_model=ArtifactList, summary="List a folder of a run's artifacts")
def list_(
    run_id: str, ctx: Ctx, svc: Svc, path: str = Query("", description="Folder; '' for the root")
) -> object:
    entries = svc.artifacts.list(ctx, run_id, path)
    return json_response(
        ArtifactList(
            files=[
                ArtifactEntryOut(path=e.path, is_dir=e.is_dir, size=e.size, sha256=e.sha256) for e in entries
            ]
        )
    )
