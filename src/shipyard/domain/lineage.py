"""Lineage: node ids as a user types them, and the graph a walk from one node returns.

A node id is ``KIND:REST``: ``data:NAME:VERSION``, ``job:NAME``, ``run:RUN_ID``,
``model:NAME:VERSION``, ``deployment:ENDPOINT/DEPLOYMENT`` (online),
``batch-deployment:ENDPOINT/DEPLOYMENT`` and ``monitor:NAME``. Edges point the way things
flow: data → job → run → model → deployment → monitor → the retraining job it started.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

from shipyard.errors import InvalidArgument

__all__ = [
    "DIRECTIONS",
    "KINDS",
    "MAX_DEPTH",
    "READ_PERMISSION",
    "Box",
    "Direction",
    "Edge",
    "Graph",
    "Node",
    "NodeId",
    "columns",
    "layout",
    "parse_node_id",
    "studio_href",
    "to_mermaid",
    "to_svg",
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


# -- drawing: columns left → right, boxes and SVG edges (the studio page and the model card) --

_BOX_W, _BOX_H, _GAP_X, _GAP_Y, _PAD = 190, 46, 56, 18, 8
_FILL = {
    "data": "#e8f1fb", "job": "#fdf1e1", "run": "#eef7ec", "model": "#f3ecfb",
    "deployment": "#fbe9ee", "batch-deployment": "#fbe9ee", "monitor": "#fff8d6",
}  # fmt: skip


def studio_href(node: Node) -> str | None:
    """The node's page in the studio; None for an unresolved node or one without a page."""
    if node.unresolved:
        return None
    kind, ref = node.id.split(":", 1)
    parts = parse_node_id(node.id).parts
    q = [quote(p, safe="") for p in parts]
    pages = {
        "data": lambda: f"/studio/data/{q[0]}?version={q[1]}",
        "job": lambda: f"/studio/jobs/{q[0]}",
        "run": lambda: f"/studio/runs/{q[0]}",
        "model": lambda: f"/studio/models/{q[0]}/versions/{q[1]}",
        "deployment": lambda: f"/studio/endpoints/{q[0]}",
        "monitor": lambda: f"/studio/monitors/{q[0]}",
    }
    page = pages.get(kind)
    return page() if page is not None and ref else None


@dataclass(frozen=True, slots=True)
class Box:
    node: Node
    x: int
    y: int
    column: int


def columns(graph: Graph) -> dict[str, int]:
    """Each node's column: the longest chain of links that leads to it (data, then the job
    that read it, its run, the model, its deployment, the monitor, the retraining job…)."""
    column = dict.fromkeys((n.id for n in graph.nodes), 0)
    links = [(e.source, e.target) for e in graph.edges if e.source in column and e.target in column]
    for _ in range(len(column)):  # a cycle (never made by the walk) stops after n rounds
        changed = False
        for source, target in links:
            if column[target] < column[source] + 1:
                column[target], changed = column[source] + 1, True
        if not changed:
            break
    return column


def layout(graph: Graph) -> tuple[list[Box], int, int]:
    """The boxes, and the drawing's width and height."""
    column = columns(graph)
    order = {kind: i for i, kind in enumerate(KINDS)}
    by_column: dict[int, list[Node]] = {}
    for node in sorted(graph.nodes, key=lambda n: (order.get(n.kind, 99), n.label)):
        by_column.setdefault(column[node.id], []).append(node)
    boxes = [
        Box(node, _PAD + c * (_BOX_W + _GAP_X), _PAD + row * (_BOX_H + _GAP_Y), c)
        for c, nodes in sorted(by_column.items())
        for row, node in enumerate(nodes)
    ]
    width = max((b.x + _BOX_W for b in boxes), default=0) + _PAD
    height = max((b.y + _BOX_H for b in boxes), default=0) + _PAD
    return boxes, width, height


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _clip(text: str, room: int = 26) -> str:
    return text if len(text) <= room else text[: room - 1] + "…"


def to_svg(graph: Graph, *, base: str | None = "") -> str:
    """The graph as one inline ``<svg>`` (no script, no external style): boxes in columns by
    their place in the chain, each a link to its studio page under ``base`` (a server's URL,
    or "" for this one; None: no links)."""
    boxes, width, height = layout(graph)
    at = {b.node.id: b for b in boxes}
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="lineage-graph" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" role="img" aria-label="lineage of {_esc(graph.root)}"'
        ' font-family="system-ui, sans-serif" font-size="12">'
    ]
    for edge in graph.edges:
        a, b = at.get(edge.source), at.get(edge.target)
        if a is None or b is None:
            continue
        x1, y1, x2, y2 = a.x + _BOX_W, a.y + _BOX_H // 2, b.x, b.y + _BOX_H // 2
        bend = max(24, (x2 - x1) // 2)
        out.append(
            f'<path class="lineage-edge" d="M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2},{y2}"'
            f' fill="none" stroke="#7a8594" stroke-width="1.4"><title>{_esc(edge.relation)}</title></path>'
        )
    for box in boxes:
        node = box.node
        dash = ' stroke-dasharray="4 3"' if node.unresolved else ""
        width_ = 3 if node.id == graph.root else 1
        title = f"{node.id}{' (unresolved: not held here)' if node.unresolved else ''}"
        shape = (
            f'<rect x="{box.x}" y="{box.y}" width="{_BOX_W}" height="{_BOX_H}" rx="6"'
            f' fill="{_FILL.get(node.kind, "#f4f4f4")}" stroke="#334"{dash} stroke-width="{width_}"/>'
            f'<text x="{box.x + 8}" y="{box.y + 17}" fill="#556">{_esc(node.kind)}</text>'
            f'<text x="{box.x + 8}" y="{box.y + 35}" fill="#111" font-weight="600">'
            f"{_esc(_clip(node.label))}</text>"
            f"<title>{_esc(title)}</title>"
        )
        page = studio_href(node) if base is not None else None
        href = f"{base}{page}" if page else None
        group = f'<g class="lineage-node" data-node="{_esc(node.id)}">{shape}</g>'
        out.append(f'<a href="{_esc(href)}">{group}</a>' if href else group)
    out.append("</svg>")
    return "".join(out)
