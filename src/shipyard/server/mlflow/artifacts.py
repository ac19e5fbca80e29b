"""MLflow's proxied artifact service: ``/api/2.0/mlflow-artifacts/artifacts/<key>``.

Also ``/api/3.0/mlflow/server-info``: the client asks it before multipart transfers, and
learns here that uploads and downloads go in one request each; and a run's listing as
MLflow's tracking API answers it (``GET /api/2.0/mlflow/artifacts/list``, ``list_router``):
paths relative to the run's artifact root, with the root's URI.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from typing import Annotated, Any, BinaryIO

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from shipyard.domain.context import RequestContext
from shipyard.domain.paths import clean_relative_path, join_key
from shipyard.errors import InvalidPath
from shipyard.server.deps import Ctx, Services, Svc
from shipyard.server.mlflow._convert import ARTIFACT_SCHEME
from shipyard.server.mlflow._route import MlflowApiError, MlflowRoute, ok, payload
from shipyard.server.mlflow.runs import RunIdIn
from shipyard.services.artifacts import ArtifactEntry

__all__ = [
    "attachment",
    "file_infos",
    "list_router",
    "router",
    "run_listing",
    "safe_path",
    "server_info_router",
]

router = APIRouter(route_class=MlflowRoute)
server_info_router = APIRouter(route_class=MlflowRoute)
list_router = APIRouter(route_class=MlflowRoute)

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


def safe_path(path: str, *, allow_empty: bool = False) -> str:
    """``path`` cleaned (``domain.paths``), or MLflow's "Invalid path" saying what is wrong."""
    try:
        return clean_relative_path(path, allow_empty=allow_empty)
    except InvalidPath as exc:
        raise MlflowApiError("INVALID_PARAMETER_VALUE", f"Invalid path: {exc.message}") from None


def file_infos(base: str, entries: list[ArtifactEntry]) -> list[dict[str, Any]]:
    """MLflow's ``FileInfo`` messages for the children of folder ``base`` (relative to a root)."""
    out: list[dict[str, Any]] = []
    for entry in entries:
        path = posixpath.join(base, entry.path) if base else entry.path
        if entry.is_dir:
            out.append({"path": path, "is_dir": True})
        else:
            out.append({"path": path, "is_dir": False, "file_size": entry.size})
    return out


def attachment(handle: BinaryIO, path: str) -> StreamingResponse:
    """A stored file as a download named after its last path segment: a browser must never
    render an artifact as a page of this origin."""
    name = posixpath.basename(path).replace('"', "")
    return StreamingResponse(
        _chunks(handle),
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def run_listing(ctx: RequestContext, svc: Services, run_id: str, path: str | None) -> dict[str, Any]:
    """MLflow's ``ListArtifacts`` answer for a run's folder: a file or a missing folder lists
    nothing, as on MLflow (its client probes folders this way)."""
    run = svc.tracking.get_run(ctx, run_id)
    base = safe_path(path or "", allow_empty=True)
    entries = svc.proxied_artifacts.list(ctx, join_key(run.artifact_uri, base))
    out: dict[str, Any] = {"root_uri": ARTIFACT_SCHEME + run.artifact_uri}
    if entries:
        out["files"] = file_infos(base, entries)
    return out


class ListIn(RunIdIn):
    path: str | None = None
    # Listings are never paged here (no token is ever issued), so any token asks for the
    # one page there is.
    page_token: str | None = None


@list_router.get("/artifacts/list")
def list_run_artifacts(ctx: Ctx, svc: Svc, body: Annotated[ListIn, payload(ListIn)]) -> Response:
    return ok(run_listing(ctx, svc, body.id, body.path))
