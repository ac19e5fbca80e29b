"""/api/v1/lineage: the lineage graph around one node (``?node=model:credit:1``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from shipyard.domain.lineage import Graph
from shipyard.server.deps import Ctx, Svc, json_response
from shipyard.services.lineage import DEFAULT_DEPTH, LineageService

__all__ = ["LineageEdge", "LineageGraph", "LineageNode", "router"]

router = APIRouter(prefix="/api/v1/lineage", tags=["lineage"])


class LineageNode(BaseModel):
    id: str = Field(description="The node id, as `shipyard lineage show` takes it: `model:credit:1`.")
    kind: str = Field(description="data, job, run, model, deployment, batch-deployment or monitor.")
    label: str
    attrs: dict[str, Any] = Field(description="What the node is: status, code_digest, git_commit, …")
    unresolved: bool = Field(description="A link names it but this workspace holds no such thing.")


class LineageEdge(BaseModel):
    source: str
    target: str
    relation: str = Field(description="input, output, step, ran, registered, deployed, monitors, started.")


class LineageGraph(BaseModel):
    root: str
    nodes: list[LineageNode]
    edges: list[LineageEdge]
    truncated: bool = Field(description="The walk stopped at its node budget (500) before its depth.")


def graph_out(graph: Graph) -> LineageGraph:
    return LineageGraph(
        root=graph.root,
        nodes=[
            LineageNode(id=n.id, kind=n.kind, label=n.label, attrs=n.attrs, unresolved=n.unresolved)
            for n in graph.nodes
        ],
        edges=[LineageEdge(source=e.source, target=e.target, relation=e.relation) for e in graph.edges],
        truncated=graph.truncated,
    )


@router.get(
    "",
    response_model=LineageGraph,
    summary="The lineage graph around a node: data → jobs → runs → models → deployments → monitors",
)
def lineage(
    ctx: Ctx,
    svc: Svc,
    node: str = Query(
        ...,
        max_length=600,
        description="`data:NAME:VERSION`, `job:NAME`, `run:RUN_ID`,"
        " `model:NAME:VERSION`, `deployment:ENDPOINT/DEPLOYMENT`,"
        " `batch-deployment:ENDPOINT/DEPLOYMENT` or `monitor:NAME`.",
    ),
    direction: str = Query("both", description="both, upstream or downstream."),
    depth: int = Query(DEFAULT_DEPTH, description="How many links away from the node, 1 to 50."),
) -> object:
    found = svc.get("lineage", LineageService).graph(ctx, node, direction, depth)
    return json_response(graph_out(found))
