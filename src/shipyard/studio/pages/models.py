"""The model registry: registered models, a model's versions and alias history, and one
version's lineage (the run that logged it, the job that ran that run, the data the job read,
the endpoints serving it). Every datum is an API answer; a panel whose call fails shows the
API's error in place, so a reader without ``jobs:read`` still sees the rest of the version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from shipyard.api.endpoints import OnlineDeployment, OnlineEndpoint
from shipyard.client import _convert
from shipyard.domain.registry import ModelEvent, ModelVersion, RegisteredModel
from shipyard.domain.tracking import Run
from shipyard.studio.api import ApiError, StudioApi
from shipyard.studio.mlmodel import mlmodel_url, read_mlmodel, signature_of
from shipyard.studio.render import page, render

__all__ = ["JobInput", "page_number", "router"]

router = APIRouter()

PAGE_SIZE = 50
_HISTORY_MAX = 1000  # the API's events come oldest first; a model with more is rare
_ALIAS_ACTIONS = ("alias_set", "alias_deleted")


def page_number(text: str | None) -> int:
    """``?page=`` as a 1-based page; anything else (``abc``, ``-3``) is the first page: a
    hand-edited URL gets a page, not a validation error."""
    try:
        number = int(text or 1)
    except ValueError:
        return 1
    return max(1, min(number, 100_000))


def _q(text: str) -> str:
    return quote(text, safe="")


@router.get("/studio/models")
@page
async def models_page(
    request: Request,
    page: str | None = Query(None, max_length=20),
    q: str | None = Query(None, max_length=200),
) -> Response:
    api = StudioApi(request)
    number = page_number(page)
    search = (q or "").strip()
    answer = await api.get(
        "/api/v1/models",
        name_like=f"%{search}%" if search else None,
        max_results=PAGE_SIZE + 1,  # one more than shown says whether a next page exists
        offset=(number - 1) * PAGE_SIZE,
    )
    found: list[RegisteredModel] = [_convert.model(m) for m in answer["models"]]

    def link(to: int) -> str:
        query = "&".join(
            p for p in (f"q={_q(search)}" if search else "", f"page={to}" if to > 1 else "") if p
        )
        return "/studio/models" + (f"?{query}" if query else "")

    return render(
        request, "models.html", api=api, title="Models", models=found[:PAGE_SIZE], q=search,
        page=number, prev_link=link(number - 1) if number > 1 else None,
        next_link=link(number + 1) if len(found) > PAGE_SIZE else None,
    )  # fmt: skip


@router.get("/studio/models/{name}")
@page
async def model_page(request: Request, name: str) -> Response:
    api = StudioApi(request)
    model: RegisteredModel = _convert.model(await api.get(f"/api/v1/models/{_q(name)}"))
    versions: list[ModelVersion] = []
    versions_error: ApiError | None = None
    try:
        answer = await api.get(f"/api/v1/models/{_q(name)}/versions")
        versions = sorted((_convert.version(v) for v in answer["versions"]), key=lambda v: -v.version)
    except ApiError as error:
        versions_error = error
    events: list[ModelEvent] = []
    history_error: ApiError | None = None
    try:
        answer = await api.get(f"/api/v1/models/{_q(name)}/history", max_results=_HISTORY_MAX)
        events = [_convert.event(e) for e in answer["events"]]
    except ApiError as error:
        history_error = error
    newest_first = list(reversed(events))
    return render(
        request, "model.html", api=api, title=model.name, model=model, versions=versions,
        versions_error=versions_error, alias_events=[e for e in newest_first if e.action in _ALIAS_ACTIONS],
        events=newest_first, history_error=history_error, history_full=len(events) >= _HISTORY_MAX,
        aliases=sorted(model.aliases.items()),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class JobInput:
    """One input of the job that produced a version, with a studio link where it has one."""

    name: str
    kind: str  # literal, snapshot, data, model, run, url
    value: str
    type: str
    href: str | None

    @staticmethod
    def parse(name: str, data: Any) -> JobInput:
        spec = data if isinstance(data, dict) else {"value": data}
        kind, value = str(spec.get("kind", "")), str(spec.get("value", ""))
        return JobInput(name, kind, value, str(spec.get("type", "")), _input_link(kind, value))


def _input_link(kind: str, value: str) -> str | None:
    """``name:version`` / ``name@label`` of a data asset or model, ``<run_id>/<path>`` of a run."""
    if kind in ("data", "model"):
        asset, sep, ref = value.partition("@") if "@" in value else value.partition(":")
        if not asset:
            return None
        if kind == "data":
            return f"/studio/data/{_q(asset)}" + (f"?version={_q(ref)}" if sep == ":" and ref else "")
        if sep == ":" and ref.isdigit():
            return f"/studio/models/{_q(asset)}/versions/{ref}"
        return f"/studio/models/{_q(asset)}"
    if kind == "run" and value:
        return f"/studio/runs/{_q(value.partition('/')[0])}"
    return None


@dataclass(frozen=True, slots=True)
class Serving:
    endpoint: str
    deployment: str
    state: str
    traffic: int
    mirror: int


@router.get("/studio/models/{name}/versions/{version}")
@page
async def version_page(request: Request, name: str, version: str) -> Response:
    api = StudioApi(request)
    if not version.isdigit():
        # MLflow's UI URL holds a number; the API would also take an alias here, but a page
        # address must name one version for good, so anything else is explained, not guessed.
        error = ApiError(
            400, "INVALID_ARGUMENT",
            f"a model version is a whole number (1, 2, …); got {version!r}."
            f" Aliases are listed on the model's page: /studio/models/{name}",
        )  # fmt: skip
        return render(request, "error.html", api=api, status=400, error=error, title="Error 400")
    found: ModelVersion = _convert.version(await api.get(f"/api/v1/models/{_q(name)}/versions/{version}"))
    context: dict[str, Any] = {
        "run": None, "run_error": None, "job": None, "job_name": None, "job_error": None, "inputs": [],
        "mlmodel": None, "mlmodel_path": None, "signature": {}, "mlmodel_error": None,
        "serving": [], "serving_error": None,
    }  # fmt: skip
    if found.run_id:
        try:
            run: Run = _convert.run(await api.get(f"/api/v1/runs/{_q(found.run_id)}"))
            context["run"] = run
            context["job_name"] = run.tags.get("shipyard.job.name")
        except ApiError as error:
            context["run_error"] = error
    if context["job_name"]:
        try:
            job = await api.get(f"/api/v1/jobs/{_q(context['job_name'])}")
            context["job"] = job
            inputs = (job.get("spec") or {}).get("inputs") or {}
            context["inputs"] = [JobInput.parse(k, v) for k, v in sorted(inputs.items())]
        except ApiError as error:
            context["job_error"] = error
    try:
        url = await mlmodel_url(api, found)
        if url is not None:
            context["mlmodel_path"] = url
            text = await read_mlmodel(api, url)
            context["mlmodel"] = text
            context["signature"] = signature_of(text) if text else {}
    except ApiError as error:
        context["mlmodel_error"] = error
    try:
        context["serving"] = await _serving(api, found)
    except ApiError as error:
        context["serving_error"] = error
    monitor_tags = {
        k: v for k, v in found.tags.items() if k == "shipyard.monitor" or k.startswith("shipyard.monitor.")
    }
    return render(
        request, "model_version.html", api=api, title=f"{found.name} v{found.version}", v=found,
        monitor_tags=sorted(monitor_tags.items()), tags=sorted(found.tags.items()), **context,
    )  # fmt: skip


async def _serving(api: StudioApi, found: ModelVersion) -> list[Serving]:
    """Online deployments whose resolved model is this version: every endpoint's deployments,
    read one endpoint at a time (the API has no query by model)."""
    answer = await api.get("/api/v1/online-endpoints")
    serving: list[Serving] = []
    for data in answer["endpoints"]:
        endpoint = _convert.decode(OnlineEndpoint, data)
        deployments = await api.get(f"/api/v1/online-endpoints/{_q(endpoint.name)}/deployments")
        for d in deployments["deployments"]:
            deployment = _convert.decode(OnlineDeployment, d)
            model = deployment.model or {}
            if model.get("name") == found.name and str(model.get("version")) == str(found.version):
                serving.append(
                    Serving(
                        endpoint.name,
                        deployment.name,
                        deployment.provisioning_state,
                        endpoint.traffic.get(deployment.name, 0),
                        endpoint.mirror_traffic.get(deployment.name, 0),
                    )
                )
    return serving
