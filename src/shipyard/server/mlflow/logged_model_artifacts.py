"""A logged model's files, as MLflow's web UI browses them (``/api|ajax-api/2.0/mlflow``):

- ``GET logged-models/<id>/artifacts/directories?artifact_directory_path=<dir>``: the
  folder's immediate children, named relative to the model's artifact root, with the root's
  URI (``root_uri``);
- ``GET logged-models/<id>/artifacts/files?artifact_file_path=<file>``: the file, as an
  attachment (a browser must never render an artifact as a page of this origin).

Both go through the proxied artifact service, so a path stays inside the model's own
artifact root (``domain.paths`` refuses ``..``, absolute and encoded paths first).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from shipyard.domain.paths import join_key
from shipyard.server.deps import Ctx, Svc
from shipyard.server.mlflow._convert import ARTIFACT_SCHEME
from shipyard.server.mlflow._route import MlflowApiError, MlflowRoute, ok
from shipyard.server.mlflow.artifacts import attachment, file_infos, safe_path

__all__ = ["router"]

router = APIRouter(route_class=MlflowRoute)


@router.get("/logged-models/{model_id}/artifacts/directories")
def list_directory(model_id: str, ctx: Ctx, svc: Svc, artifact_directory_path: str = "") -> Response:
    model = svc.logged_models.get(ctx, model_id)
    base = safe_path(artifact_directory_path, allow_empty=True)
    entries = svc.proxied_artifacts.list(ctx, join_key(model.artifact_location, base))
    out: dict[str, Any] = {"root_uri": ARTIFACT_SCHEME + model.artifact_location}
    if entries:
        out["files"] = file_infos(base, entries)
    return ok(out)


@router.get("/logged-models/{model_id}/artifacts/files")
async def download_file(model_id: str, ctx: Ctx, svc: Svc, artifact_file_path: str = "") -> Response:
    if not artifact_file_path:
        raise MlflowApiError("BAD_REQUEST", 'Request must include the "artifact_file_path" query parameter.')
    path = safe_path(artifact_file_path)
    model = await run_in_threadpool(svc.logged_models.get, ctx, model_id)
    key = join_key(model.artifact_location, path)
    handle = await run_in_threadpool(svc.proxied_artifacts.open, ctx, key)
    return attachment(handle, path)
