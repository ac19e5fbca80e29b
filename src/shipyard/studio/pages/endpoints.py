"""Online and batch endpoints, and an online endpoint's page: its deployments, the traffic and
mirror split as bars, the traffic form, live request figures and a try-it form.

Everything shown comes from ``/api/v1/online-endpoints`` and ``/api/v1/batch-endpoints``.
What changes things (traffic, scoring) is sent by ``static/ops.js`` from the browser to the
public API with the user's session, so the API's own checks and errors apply as they are.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shipyard.api.batch import BatchEndpoint
from shipyard.api.endpoints import OnlineDeployment, OnlineEndpoint
from shipyard.client._convert import decode
from shipyard.studio.api import ApiError, StudioApi
from shipyard.studio.render import page, render

__all__ = ["Segment", "router", "sample_request", "traffic_segments"]

router = APIRouter()

# How many deployment lists the endpoints list asks for at once (one API call per endpoint).
_PARALLEL = 8
PALETTE = 8  # colour classes .dep-0 … .dep-7 in studio.css


@dataclass(frozen=True, slots=True)
class Segment:
    """One deployment's share of a stacked bar: its percent and its colour (by its place in
    the endpoint's deployments, so a deployment has the same colour in every bar)."""

    deployment: str
    percent: int
    colour: int


def traffic_segments(split: dict[str, int], deployments: list[str]) -> list[Segment]:
    """The non-zero shares of ``split`` as bar segments, in the deployments' order (then any
    name the split holds that is not listed, as the API may be read between two changes)."""
    order = list(deployments) + sorted(set(split) - set(deployments))
    return [
        Segment(name, int(split[name]), order.index(name) % PALETTE)
        for name in order
        if int(split.get(name, 0)) > 0
    ]


def traffic_summary(split: dict[str, int]) -> str:
    shares = [f"{name} {pct}%" for name, pct in sorted(split.items(), key=lambda kv: -kv[1]) if pct > 0]
    return ", ".join(shares) or "no traffic"


def sample_request() -> str:
    """A request body to start from. The API exposes no model signature or input example
    (an API gap), so this is the Azure ML shape of docs/serving.md with placeholder columns."""
    body = {"input_data": {"columns": ["feature_1", "feature_2"], "index": [0], "data": [[1.0, 2.0]]}}
    return json.dumps(body, indent=2)


async def _deployments(api: StudioApi, name: str) -> list[OnlineDeployment] | ApiError:
    try:
        answer = await api.get(f"/api/v1/online-endpoints/{name}/deployments")
    except ApiError as error:
        return error
    return [decode(OnlineDeployment, d) for d in answer["deployments"]]


async def _batch_deployments(api: StudioApi, name: str) -> list[str] | ApiError:
    try:
        answer = await api.get(f"/api/v1/batch-endpoints/{name}/deployments")
    except ApiError as error:
        return error
    return [str(d["name"]) for d in answer["deployments"]]


async def _bounded(calls: list[Any]) -> list[Any]:
    gate = asyncio.Semaphore(_PARALLEL)

    async def one(call: Any) -> Any:
        async with gate:
            return await call

    return list(await asyncio.gather(*(one(c) for c in calls)))


@router.get("/studio/endpoints")
@page
async def endpoints_page(request: Request) -> Response:
    api = StudioApi(request)
    online: list[OnlineEndpoint] = []
    online_error: ApiError | None = None
    deployments: dict[str, list[OnlineDeployment] | ApiError] = {}
    try:
        answer = await api.get("/api/v1/online-endpoints")
        online = [decode(OnlineEndpoint, e) for e in answer["endpoints"]]
        found = await _bounded([_deployments(api, e.name) for e in online])
        deployments = dict(zip([e.name for e in online], found, strict=True))
    except ApiError as error:
        online_error = error  # the batch table may still be readable
    batch: list[BatchEndpoint] = []
    batch_error: ApiError | None = None
    batch_deployments: dict[str, list[str] | ApiError] = {}
    try:
        answer = await api.get("/api/v1/batch-endpoints")
        batch = [decode(BatchEndpoint, e) for e in answer["endpoints"]]
        listed = await _bounded([_batch_deployments(api, e.name) for e in batch])
        batch_deployments = dict(zip([e.name for e in batch], listed, strict=True))
    except ApiError as error:
        batch_error = error
    if online_error and batch_error and online_error.status == batch_error.status == 403:
        raise online_error  # nothing here is readable: the error page says which role allows it
    return render(
        request, "endpoints.html", api=api, title="Endpoints", online=online, online_error=online_error,
        deployments=deployments, batch=batch, batch_error=batch_error,
        batch_deployments=batch_deployments, summary=traffic_summary, is_error=_is_error,
    )  # fmt: skip


def _is_error(value: object) -> bool:
    return isinstance(value, ApiError)


@router.get("/studio/endpoints/{name}")
@page
async def endpoint_page(request: Request, name: str) -> Response:
    api = StudioApi(request)
    endpoint = decode(OnlineEndpoint, await api.get(f"/api/v1/online-endpoints/{name}"))
    found = await _deployments(api, endpoint.name)
    deployments_error = found if isinstance(found, ApiError) else None
    deployments = [] if isinstance(found, ApiError) else found
    names = [d.name for d in deployments]
    # Names the split holds but the list lacks (a deployment deleted between the two reads)
    # still get an input, so the form never drops a share silently.
    form_names = names + sorted((set(endpoint.traffic) | set(endpoint.mirror_traffic)) - set(names))
    config = {
        "endpoint": endpoint.name,
        "auth_mode": endpoint.auth_mode,
        "workspace": api.workspace,
        "deployments": names,
        "traffic": endpoint.traffic,
    }
    return render(
        request, "endpoint.html", api=api, title=endpoint.name, endpoint=endpoint,
        deployments=deployments, deployments_error=deployments_error, form_names=form_names,
        traffic=traffic_segments(endpoint.traffic, form_names),
        mirror=traffic_segments(endpoint.mirror_traffic, form_names),
        mirror_total=sum(endpoint.mirror_traffic.values()), summary=traffic_summary,
        sample=sample_request(),
        config=json.dumps(config), score_path=f"/endpoints/{endpoint.name}/score",
    )  # fmt: skip
