"""MLflow's proxied artifact service: ``/api/2.0/mlflow-artifacts/artifacts/<key>``.

Also ``/api/3.0/mlflow/server-info``: the client asks it before multipart transfers, and
learns here that uploads and downloads go in one request each.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from shipyard.server.deps import Ctx, Svc
from shipyard.server.mlflow._route import MlflowRoute, ok

__all__ = ["router", "server_info_router"]

router = APIRouter(route_class=MlflowRoute)
server_info_router = APIRouter(route_class=MlflowRoute)

_CHUNK = 1 << 20


def _chunks(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(_CHUNK):
            yield chunk


@router.put("/artifacts/{path:path}")
async def upload(path: str, request: Request, ctx: Ctx, svc: Svc) -> Response:
    await svc.proxied_artifacts.upload(ctx, path, request.stream())
    return ok()


@router.get("/artifacts/{path:path}")
async def download(path: str, ctx: Ctx, svc: Svc) -> Response:
    handle = await run_in_threadpool(svc.proxied_artifacts.open, ctx, path)
    return StreamingResponse(_chunks(handle), media_type="application/octet-stream")


@router.delete("/artifacts/{path:path}")
def delete(path: str, ctx: Ctx, svc: Svc) -> Response:
    svc.proxied_artifacts.delete(ctx, path)
    return ok()


@router.get("/artifacts")
def list_(ctx: Ctx, svc: Svc, path: str = "") -> Response:
    entries = svc.proxied_artifacts.list(ctx, path)
    files = [
        {"path": e.path, "is_dir": True}
        if e.is_dir
        else {"path": e.path, "is_dir": False, "file_size": e.size}
        for e in entries
    ]
    return ok({"files": files} if files else {})


@server_info_router.get("/server-info")
def server_info() -> Response:
    return ok(
        {
            "store_type": "SqlStore",
            "workspaces_enabled": False,
            "multipart_uploads_enabled": False,
            "multipart_downloads_enabled": False,
        }
    )
