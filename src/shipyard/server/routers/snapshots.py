"""/api/v1/blobs and /api/v1/snapshots: content-addressed uploads and folder manifests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from shipyard.domain.snapshots import SnapshotFile
from shipyard.server.contract import BINARY_ANSWER
from shipyard.server.data_schemas import (
    BlobOut,
    MissingBlobsIn,
    MissingBlobsOut,
    SnapshotFileDto,
    SnapshotIn,
    SnapshotOut,
)
from shipyard.server.deps import Svc, json_response
from shipyard.services.snapshots import Snapshot

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["snapshots"])

_CHUNK = 1 << 20


def _chunks(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(_CHUNK):
            yield chunk


def _out(snapshot: Snapshot) -> SnapshotOut:
    files = [SnapshotFileDto(path=f.path, size=f.size, sha256=f.sha256, mode=f.mode) for f in snapshot.files]
    return SnapshotOut(digest=snapshot.digest, size=snapshot.size, files=files)


@router.post(
    "/blobs/missing", response_model=MissingBlobsOut, summary="Which of these blobs the server lacks"
)
def missing(body: MissingBlobsIn, svc: Svc) -> object:
    return json_response(MissingBlobsOut(missing=svc.snapshots.missing(body.sha256)))


@router.put(
    "/blobs/{sha256}",
    response_model=BlobOut,
    status_code=201,
    summary="Upload a blob (raw body, streamed); its sha256 must match the name",
)
async def put_blob(sha256: str, request: Request, svc: Svc) -> object:
    size = await svc.snapshots.put_blob(sha256, request.stream())
    return json_response(BlobOut(sha256=sha256, size=size), 201)


@router.get(
    "/blobs/{sha256}",
    summary="Download a blob (streamed)",
    response_class=StreamingResponse,
    responses=BINARY_ANSWER,
)
async def get_blob(sha256: str, svc: Svc) -> StreamingResponse:
    handle, size = await run_in_threadpool(svc.snapshots.open_blob, sha256)
    headers = {"X-Content-SHA256": sha256, "Content-Length": str(size)}
    return StreamingResponse(_chunks(handle), media_type="application/octet-stream", headers=headers)


@router.post(
    "/snapshots",
    response_model=SnapshotOut,
    status_code=201,
    summary="Record a folder snapshot from uploaded blobs; returns its digest",
)
def create_snapshot(body: SnapshotIn, svc: Svc) -> object:
    files = [SnapshotFile(f.path, f.size, f.sha256, f.mode) for f in body.files]
    return json_response(_out(svc.snapshots.create_snapshot(files)), 201)


@router.get("/snapshots/{digest}", response_model=SnapshotOut, summary="A snapshot's manifest")
def get_snapshot(digest: str, svc: Svc) -> object:
    return json_response(_out(svc.snapshots.manifest(digest)))


@router.get(
    "/snapshots/{digest}/files/{path:path}",
    summary="Download one file of a snapshot",
    response_class=StreamingResponse,
    responses=BINARY_ANSWER,
)
async def get_file(digest: str, path: str, svc: Svc) -> StreamingResponse:
    handle, file = await run_in_threadpool(svc.snapshots.open_file, digest, path)
    headers = {"X-Content-SHA256": file.sha256, "Content-Length": str(file.size)}
    return StreamingResponse(_chunks(handle), media_type="application/octet-stream", headers=headers)
