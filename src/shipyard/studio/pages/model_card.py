"""A version's model card (``/studio/models/{name}/versions/{version}/card``): the same
self-contained, printable page ``shipyard model card --out card.html`` writes, read through
the API as the caller (a section they may not read is a note on the card)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from shipyard.client.model_card import Failed, card_reads
from shipyard.domain.model_card import to_html
from shipyard.studio.api import ApiError, StudioApi
from shipyard.studio.render import page, render

__all__ = ["router"]

router = APIRouter()


@router.get("/studio/models/{name}/versions/{version}/card")
@page
async def card_page(request: Request, name: str, version: str) -> Response:
    api = StudioApi(request)
    if not version.isdigit() or int(version) < 1:
        error = ApiError(
            400, "INVALID_ARGUMENT", f"a model version is a whole number (1, 2, …); got {version!r}"
        )
        return render(request, "error.html", api=api, status=400, error=error, title="Error 400")
    reads = card_reads(name, int(version), str(request.base_url).rstrip("/"))
    answer: Any = None
    try:
        while True:
            read = reads.send(answer)
            try:
                answer = await api.get(read.path, **read.params)
            except ApiError as error:
                if read.required:
                    raise
                answer = Failed(error.message)
    except StopIteration as done:
        card = done.value
    return HTMLResponse(to_html(card), headers={"Cache-Control": "no-store"})
