"""The lineage page: the graph around one node (``/studio/lineage?node=model:credit:1``),
drawn server-side as boxes in columns (data → job → run → model → deployment → monitor →
the retraining job) joined by SVG edges, each box a link to its page — no script. The graph
is the API's answer for the caller, so it holds only what they may read."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from markupsafe import Markup

from shipyard.domain.lineage import DIRECTIONS, Graph, studio_href, to_mermaid, to_svg
from shipyard.studio.api import StudioApi
from shipyard.studio.render import page, render

__all__ = ["router"]

router = APIRouter()


@router.get("/studio/lineage")
@page
async def lineage_page(
    request: Request,
    node: str | None = Query(None, max_length=600),
    direction: str | None = Query(None, max_length=20),
    depth: str | None = Query(None, max_length=5),
) -> Response:
    api = StudioApi(request)
    chosen = direction if direction in DIRECTIONS else "both"
    asked = (node or "").strip()
    graph: Graph | None = None
    if asked:
        params: dict[str, str] = {"node": asked, "direction": chosen}
        if depth and depth.isdigit():
            params["depth"] = depth
        graph = Graph.from_json(await api.get("/api/v1/lineage", **params))
    return render(
        request, "lineage.html", api=api, title=f"Lineage of {asked}" if asked else "Lineage",
        node=asked, direction=chosen, depth=depth if depth and depth.isdigit() else "", directions=DIRECTIONS,
        graph=graph, svg=Markup(to_svg(graph)) if graph else None,  # noqa: S704 - built escaped, see to_svg
        mermaid=to_mermaid(graph) if graph else "", href=studio_href,
    )  # fmt: skip
