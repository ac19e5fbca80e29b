"""Online and batch endpoints, and an online endpoint's page: its deployments, the traffic and
mirror split as bars, the traffic form, live request figures and a try-it form.

Everything shown comes from ``/api/v1/online-endpoints`` and ``/api/v1/batch-endpoints``; the
try-it sample from the served model version's MLmodel (``/api/v1/models/…``, the run's
artifacts), and the live charts from each deployment's ``…/system`` minutes (``static/ops.js``).
What changes things (traffic, scoring) is sent by ``static/ops.js`` from the browser to the
public API with the user's session, so the API's own checks and errors apply as they are.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shipyard.api.batch import BatchEndpoint
from shipyard.api.endpoints import OnlineDeployment, OnlineEndpoint
from shipyard.client import _convert
from shipyard.client._convert import decode
from shipyard.studio.api import ApiError, StudioApi
from shipyard.studio.mlmodel import mlmodel_url, read_mlmodel, signature_of
from shipyard.studio.render import page, render

__all__ = ["Sample", "Segment", "router", "sample_request", "signature_request", "traffic_segments"]

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
    """A request body to start from when the model's signature is unknown: the Azure ML shape
    of docs/serving.md with placeholder columns."""
    body = {"input_data": {"columns": ["feature_1", "feature_2"], "index": [0], "data": [[1.0, 2.0]]}}
    return json.dumps(body, indent=2)


# A plausible value per MLflow column type (mlflow.types.DataType): the signature holds no
# categories or ranges, so numbers are 0 and strings empty — the user edits them.
_VALUES: dict[str, Any] = {
    "double": 0.0,
    "float": 0.0,
    "long": 0,
    "integer": 0,
    "boolean": False,
    "string": "",
    "binary": "",
    "datetime": "1970-01-01T00:00:00",
}


def signature_request(inputs: list[dict[str, Any]]) -> str | None:
    """A one-row ``input_data`` request (columns, index, data: docs/serving.md) for a column
    signature; None when it is not one a column-based request fits (tensors, unnamed or
    unknown-typed columns)."""
    if not inputs or any(not isinstance(c.get("name"), str) or c.get("type") not in _VALUES for c in inputs):
        return None
    body = {
        "input_data": {
            "columns": [c["name"] for c in inputs],
            "index": [0],
            "data": [[_VALUES[c["type"]] for c in inputs]],
        }
    }
    return json.dumps(body, indent=2)


@dataclass(frozen=True, slots=True)
class Sample:
    """The try-it form's starting body, and where it came from (or why it is a placeholder)."""

    body: str
    note: str
    from_signature: bool


async def _sample(
    api: StudioApi, request: Request, deployments: list[OnlineDeployment], traffic: dict[str, int]
) -> Sample:
    """The body from the input signature of the model the most traffic goes to."""
    ranked = sorted(deployments, key=lambda d: -int(traffic.get(d.name, 0)))
    served = next((d for d in ranked if d.model.get("name") and d.model.get("version")), None)
    if served is None:
        why = "no deployment serves a registered model version" if deployments else "no deployment yet"
        return Sample(sample_request(), f"Placeholder columns: {why}, so no signature to read.", False)
    name, version = str(served.model["name"]), str(served.model["version"])
    label = f"{name} v{version} (deployment {served.name})"
    try:
        found = _convert.version(await api.get(f"/api/v1/models/{quote(name, safe='')}/versions/{version}"))
        url = await mlmodel_url(api, found)
        if url is None:
            return Sample(
                sample_request(), f"Placeholder columns: {label} names no MLmodel the API serves.", False
            )
        text = await read_mlmodel(api, url)
    except ApiError as error:
        return Sample(
            sample_request(),
            f"Placeholder columns: {label}'s MLmodel could not be read ({error.code}: {error.message}).",
            False,
        )
    inputs = signature_of(text)["inputs"] if text else []
    body = signature_request(inputs)
    if body is None:
        why = "has no MLmodel" if text is None else "has no column signature"
        return Sample(sample_request(), f"Placeholder columns: {label} {why}.", False)
    return Sample(body, f"One row in the input signature of {label}; the values are placeholders.", True)


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
        sample=await _sample(api, request, deployments, endpoint.traffic),
        config=json.dumps(config), score_path=f"/endpoints/{endpoint.name}/score",
    )  # fmt: skip
