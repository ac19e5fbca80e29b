"""Lineage: node ids as a user types them, and the graph a walk from one node returns.

A node id is ``KIND:REST``: ``data:NAME:VERSION``, ``job:NAME``, ``run:RUN_ID``,
``model:NAME:VERSION``, ``deployment:ENDPOINT/DEPLOYMENT`` (online),
``batch-deployment:ENDPOINT/DEPLOYMENT`` and ``monitor:NAME``. Edges point the way things
flow: data → job → run → model → deployment → monitor → the retraining job it started.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from shipyard.errors import InvalidArgument

__all__ = [
    "DIRECTIONS",
    "KINDS",
    "MAX_DEPTH",
    "READ_PERMISSION",
    "Direction",
    "Edge",
    "Graph",
    "Node",
    "NodeId",
    "parse_node_id",
    "to_mermaid",
]

Direction = Literal["both", "upstream", "downstream"]
DIRECTIONS: tuple[Direction, ...] = ("both", "upstream", "downstream")
MAX_DEPTH = 50
"""The deepest walk asked for; the default (``DEFAULT_DEPTH`` of the service) covers the whole
data → … → retraining job → its model chain."""

KINDS: tuple[str, ...] = ("data", "job", "run", "model", "deployment", "batch-deployment", "monitor")
"""In the order the studio draws their columns, left to right."""

READ_PERMISSION: dict[str, str] = {
    "data": "data:read",
    "job": "jobs:read",
    "run": "experiments:read",
    "model": "models:read",
    "deployment": "endpoints:read",
    "batch-deployment": "batch-endpoints:read",
    "monitor": "jobs:read",  # a monitor's runs are jobs (as the monitors API reads them)
}

_SHAPES = (
    "data:NAME:VERSION, job:NAME, run:RUN_ID, model:NAME:VERSION,"
    " deployment:ENDPOINT/DEPLOYMENT, batch-deployment:ENDPOINT/DEPLOYMENT or monitor:NAME"
)
_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}"
_PATTERNS: dict[str, re.Pattern[str]] = {
    "data": re.compile(rf"^({_NAME}):([A-Za-z0-9][A-Za-z0-9._-]{{0,63}})$"),
    "job": re.compile(rf"^({_NAME})$"),
    "run": re.compile(r"^([A-Za-z0-9_-]{1,64})$"),
    "model": re.compile(rf"^({_NAME}):([0-9]{{1,9}})$"),
    "deployment": re.compile(rf"^({_NAME})/({_NAME})$"),
    "batch-deployment": re.compile(rf"^({_NAME})/({_NAME})$"),
    "monitor": re.compile(rf"^({_NAME})$"),
}


@dataclass(frozen=True, slots=True)
class NodeId:
    kind: str
    parts: tuple[str, ...]

    def __str__(self) -> str:
        sep = "/" if self.kind in ("deployment", "batch-deployment") else ":"
        return f"{self.kind}:{sep.join(self.parts)}"

    @staticmethod
    def of(kind: str, *parts: object) -> NodeId:
        return NodeId(kind, tuple(str(p) for p in parts))


def parse_node_id(text: object) -> NodeId:
    """``model:credit:1`` → ``NodeId("model", ("credit", "1"))``; anything else is refused
    with the accepted shapes."""
    if not isinstance(text, str) or ":" not in text:
        raise InvalidArgument(f"a lineage node is {_SHAPES}; got {text!r}", field="node")
    kind, _, rest = text.strip().partition(":")
    pattern = _PATTERNS.get(kind)
    if pattern is None:
        raise InvalidArgument(
            f"unknown node kind {kind!r} in {text!r}: a lineage node is {_SHAPES}", field="node"
        )
    match = pattern.match(rest)
    if match is None:
        raise InvalidArgument(f"{text!r} is not a {kind} node id: a lineage node is {_SHAPES}", field="node")
    return NodeId(kind, match.groups())


@dataclass(slots=True)
class Node:
    id: str
    kind: str
    label: str
    attrs: dict[str, Any] = field(default_factory=dict)
    unresolved: bool = False
    """A link named it, but this server (in this workspace) holds no such thing."""


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    relation: str  # input, ran, registered, deployed, monitors, started, step, output


@dataclass(slots=True)
class Graph:
    root: str
    nodes: list[Node]
    edges: list[Edge]
    truncated: bool = False
    """The walk stopped at its node budget before reaching its depth."""

    def to_json(self) -> dict[str, Any]:
        """The API's answer (``GET /api/v1/lineage``)."""
        return {
            "root": self.root,
            "nodes": [
                {"id": n.id, "kind": n.kind, "label": n.label, "attrs": n.attrs, "unresolved": n.unresolved}
                for n in self.nodes
            ],
            "edges": [{"source": e.source, "target": e.target, "relation": e.relation} for e in self.edges],
            "truncated": self.truncated,
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Graph:
        """The API's answer read back (fields it does not know are ignored)."""
        return Graph(
            root=str(data["root"]),
            nodes=[
                Node(
                    str(n["id"]),
                    str(n["kind"]),
                    str(n.get("label") or n["id"]),
                    dict(n.get("attrs") or {}),
                    bool(n.get("unresolved")),
                )
                for n in data.get("nodes") or []
            ],
            edges=[
                Edge(str(e["source"]), str(e["target"]), str(e["relation"])) for e in data.get("edges") or []
            ],
            truncated=bool(data.get("truncated")),
        )

    def node(self, node_id: str) -> Node | None:
        return next((n for n in self.nodes if n.id == node_id), None)


_MERMAID_SHAPES = {
    "data": ("[(", ")]"),
    "job": ("[", "]"),
    "run": ("(", ")"),
    "model": ("[[", "]]"),
    "deployment": ("{{", "}}"),
    "batch-deployment": ("{{", "}}"),
    "monitor": (">", "]"),
}


def _mermaid_text(text: str) -> str:
    # Inside a quoted label, a double quote ends it and # starts an entity: write both as entities.
    return text.replace("#", "#35;").replace('"', "#quot;")


def to_mermaid(graph: Graph) -> str:
    """A ``flowchart LR`` to paste into a pull request or a Markdown page (GitHub draws it)."""
    ids = {node.id: f"n{i}" for i, node in enumerate(graph.nodes)}
    lines = ["flowchart LR"]
    for node in graph.nodes:
        left, right = _MERMAID_SHAPES.get(node.kind, ("[", "]"))
        extra = " (unresolved)" if node.unresolved else ""
        label = _mermaid_text(f"{node.kind}: {node.label}{extra}")
        lines.append(f'    {ids[node.id]}{left}"{label}"{right}')
    for edge in graph.edges:
        if edge.source in ids and edge.target in ids:
            lines.append(f"    {ids[edge.source]} -->|{edge.relation}| {ids[edge.target]}")
    lines.append(f"    style {ids[graph.root]} stroke-width:3px" if graph.root in ids else "")
    return "\n".join(line for line in lines if line) + "\n"
