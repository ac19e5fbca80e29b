"""Liveness with the version and the kinds of store."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from shipyard._version import __version__
from shipyard.server.deps import json_response
from shipyard.server.schemas import Health

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get(
    "/healthz", response_model=Health, summary="Health and store kinds (200 once the database answers)"
)
async def healthz(request: Request) -> object:
    state = request.app.state
    await run_in_threadpool(state.database.ping)
    return json_response(
        Health(
            status="ok",
            version=__version__,
            stores={"metadata": state.database.kind, "artifacts": state.artifact_store.kind},
        )
    )
