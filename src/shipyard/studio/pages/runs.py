"""A run's page (header, params, tags, metrics, charts, artifacts, lineage) and the preview of
one artifact. Charts draw in the browser (``charts.js``), which asks the API for each series
down-sampled to the chart's width; the page only names the keys."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import posixpath
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from shipyard.client import _convert
from shipyard.client.jobs import job_from_json
from shipyard.domain.tracking import Experiment, Run
from shipyard.studio.api import ApiError, StudioApi
from shipyard.studio.pages.jobs import TERMINAL_NAMES, read_log_tail
from shipyard.studio.render import page, render

__all__ = ["PREVIEW_LIMIT", "router", "split_tags"]

router = APIRouter()

PREVIEW_LIMIT = 256 * 1024  # bytes of an artifact a preview reads, whatever its size
CSV_ROWS = 50
_DRAIN_MAX = 64 << 20  # past the preview, a smaller rest is read and dropped, a larger one cut off
SYSTEM_PREFIX = "system/"
_IMAGES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".svg"}
_TEXT_HINT = {".txt", ".log", ".md", ".py", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".json", ".csv", ".tsv"}


def split_tags(tags: dict[str, str]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The user's tags, then the system's (``mlflow.*``, ``shipyard.*``) shown collapsed."""
    system = ("mlflow.", "shipyard.")
    own = sorted((k, v) for k, v in tags.items() if not k.startswith(system))
    rest = sorted((k, v) for k, v in tags.items() if k.startswith(system))
    return own, rest


@dataclass(frozen=True, slots=True)
class Preview:
    """What the preview shows: ``kind`` is image, json, csv, text or binary."""

    kind: str
    text: str = ""
    rows: tuple[tuple[str, ...], ...] = ()
    cut: bool = False
    size: int | None = None


def _preview(path: str, head: bytes, size: int | None) -> Preview:
    cut = size is not None and size > len(head)
    name = posixpath.basename(path)
    ext = posixpath.splitext(name)[1].lower()
    if cut:
        head = head[: head.rfind(b"\n") + 1] or head  # a whole last line, where there is one
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not cut or exc.start < len(head) - 4:  # not just a character split by the cut
            return Preview("binary", cut=cut, size=size)
        text = head[: exc.start].decode("utf-8")
    if ext == ".json" and not cut:
        try:
            return Preview("json", json.dumps(json.loads(text), indent=2, ensure_ascii=False), size=size)
        except ValueError:
            pass  # not JSON after all: shown as it is
    if ext in (".csv", ".tsv"):
        reader = csv.reader(io.StringIO(text), delimiter="\t" if ext == ".tsv" else ",")
        rows: list[tuple[str, ...]] = []
        try:
            for row in reader:
                rows.append(tuple(row))
                if len(rows) > CSV_ROWS:  # the header and 50 rows
                    break
        except csv.Error:
            return Preview("text", text, cut=cut, size=size)
        return Preview("csv", rows=tuple(rows), cut=cut or len(rows) > CSV_ROWS, size=size)
    if "\x00" in text[:4096] and ext not in _TEXT_HINT:
        return Preview("binary", cut=cut, size=size)
    return Preview("text", text, cut=cut, size=size)


@router.get("/studio/runs/{run_id}/artifact")
@page
async def artifact_page(request: Request, run_id: str, path: str = Query("", max_length=4000)) -> Response:
    api = StudioApi(request)
    run: Run = _convert.run(await api.get(f"/api/v1/runs/{run_id}"))
    download = f"/api/v1/runs/{quote(run.id, safe='')}/artifacts/{quote(path)}"
    partial = bool(request.headers.get("hx-request"))
    context: dict[str, Any] = {"api": api, "title": path or "Artifact", "run": run, "artifact": path}
    error: ApiError | None = None
    preview: Preview | None = None
    if not path.strip():
        error = ApiError(400, "INVALID_ARGUMENT", "say which artifact to preview: ?path=folder/file.ext")
    else:
        # An image is drawn by the browser from the API (same origin, the session cookie):
        # one byte read here says the API knows the file (and refuses a `..` path).
        image = posixpath.splitext(path)[1].lower() in _IMAGES
        try:
            found = await api.head(download, 1 if image else PREVIEW_LIMIT)
            head, size = found.body, found.size
            preview = Preview("image", size=size) if image else _preview(path, head, size)
        except ApiError as failed:
            error = failed
    status = 200 if error is None else error.status
    return render(
        request, "_run_artifact.html", status=status, **context, error=error, preview=preview,
        download=download, limit=PREVIEW_LIMIT, full=not partial, csv_rows=CSV_ROWS,
    )  # fmt: skip


async def _optional(
    api: StudioApi, url: str, *, body: Any = None, **params: Any
) -> tuple[Any, ApiError | None]:
    """A panel's data (a GET, or a POST of ``body``), or the API's error to show in that panel."""
    try:
        return await api.call("GET" if body is None else "POST", url, params=params, body=body), None
    except ApiError as error:
        return None, error


async def _nothing() -> tuple[Any, ApiError | None]:
    return None, None


@router.get("/studio/experiments/{experiment_id}/runs/{run_id}")
@router.get("/studio/runs/{run_id}")
@page
async def run_page(
    request: Request,
    run_id: str,
    dir: str = Query("", max_length=4000),  # noqa: A002 - an artifact folder
) -> Response:
    api = StudioApi(request)
    run: Run = _convert.run(await api.get(f"/api/v1/runs/{run_id}"))
    # The panels' calls are independent: made at once, the page waits for the slowest only.
    child_filter = {
        "experiment_ids": [run.experiment_id],
        "filter": f"tags.mlflow.parentRunId = '{run.id}'",
        "max_results": 100,
    }
    (
        (found, experiment_error),
        (parent, _),
        (artifacts, artifacts_error),
        (versions, versions_error),
        (mlflow_run, inputs_error),
        (children, children_error),
    ) = await asyncio.gather(
        _optional(api, f"/api/v1/experiments/{run.experiment_id}"),
        _optional(api, f"/api/v1/runs/{run.parent_run_id}") if run.parent_run_id else _nothing(),
        _optional(api, f"/api/v1/runs/{run.id}/artifacts", path=dir),
        _optional(api, "/api/2.0/mlflow/model-versions/search", filter=f"run_id='{run.id}'", max_results=100),
        # Datasets are only in MLflow's answer (runs/get → inputs.dataset_inputs): /api/v1 lacks them.
        _optional(api, "/api/2.0/mlflow/runs/get", run_id=run.id),
        _optional(api, "/api/v1/runs/search", body=child_filter),
    )
    experiment: Experiment | None = None if found is None else _convert.experiment(found)
    parent_name: str | None = None if parent is None else parent.get("name")
    inputs = [] if mlflow_run is None else mlflow_run["run"].get("inputs", {}).get("dataset_inputs", [])
    # A job's run shows the job's status timeline and its log (live while it runs), as the job
    # page does: where a user lands from the mlflow client's link.
    job, job_error, log = None, None, None
    job_name = run.tags.get("shipyard.job.name")
    if job_name:
        try:
            job = job_from_json(await api.get(f"/api/v1/jobs/{quote(job_name, safe='')}"))
            log = await read_log_tail(request, api, job.name, job.status.value)
        except ApiError as error:
            job_error = error
    keys = sorted(run.metrics)
    own_tags, system_tags = split_tags(run.tags)
    up = posixpath.dirname(dir.rstrip("/")) if dir else None
    return render(
        request, "run.html", api=api, title=run.name or run.id, run=run, experiment=experiment,
        experiment_error=experiment_error, parent_name=parent_name, own_tags=own_tags,
        system_tags=system_tags, params=sorted(run.params.items()),
        metrics=[run.metrics[k] for k in keys],
        chart_data={
            "run": {"id": run.id, "name": run.name or run.id[:8]},
            "keys": [k for k in keys if not k.startswith(SYSTEM_PREFIX)],
            "system": [k for k in keys if k.startswith(SYSTEM_PREFIX)],
        },
        artifacts=[] if artifacts is None else artifacts["files"], artifacts_error=artifacts_error,
        dir=dir, up=up, versions=[] if versions is None else versions.get("model_versions", []),
        versions_error=versions_error, inputs=inputs, inputs_error=inputs_error,
        children=[] if children is None else [_convert.run(r) for r in children["runs"]],
        children_error=children_error, job_name=job_name, job=job, job_error=job_error, log=log,
        terminal=sorted(TERMINAL_NAMES),
        parent_job=run.tags.get("shipyard.job.parent"),
    )  # fmt: skip
