"""shipyard lineage show NODE"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Annotated

import typer

from shipyard.cli._output import (
    TokenOption,
    UrlOption,
    WorkspaceOption,
    cell,
    connect,
    new_table,
    print_json,
    print_tables,
)

if TYPE_CHECKING:
    from shipyard.domain.lineage import Graph

__all__ = ["app"]

app = typer.Typer(
    help="Lineage: where a model came from and where it went — data asset versions, jobs (code"
    " hash, environment hash, git commit), runs, model versions, the deployments serving them, their"
    " monitors and the retraining jobs those started.",
    no_args_is_help=True,
)


class LineageFormat(enum.StrEnum):
    TABLE = "table"
    JSON = "json"
    MERMAID = "mermaid"


class Direction(enum.StrEnum):
    BOTH = "both"
    UPSTREAM = "upstream"
    DOWNSTREAM = "downstream"


_ATTRS = ("status", "git_commit", "code_digest", "environment_hash", "state", "source")


def _facts(attrs: dict[str, object]) -> str:
    shown = []
    for key in _ATTRS:
        value = attrs.get(key)
        if value:
            text = str(value)
            if key.endswith(("_digest", "_hash", "_commit")):  # a prefix tells them apart, as git's short SHA
                text = text.removeprefix("sha256:")[:12]
            shown.append(f"{key}={text}")
    return " ".join(shown)


def _print_table(graph: Graph) -> None:
    nodes = new_table("node", "kind", "label", "facts", priority=("node", "facts"))
    for n in graph.nodes:
        style = "bold" if n.id == graph.root else ("dim" if n.unresolved else "")
        facts = "unresolved: not held in this workspace" if n.unresolved else _facts(n.attrs)
        nodes.add_row(cell(n.id, style), cell(n.kind), cell(n.label), cell(facts))
    links = new_table("from", "relation", "to", priority=("from", "to"))
    for e in graph.edges:
        links.add_row(cell(e.source), cell(e.relation), cell(e.target))
    more = " (stopped at the node budget: ask for a smaller --depth)" if graph.truncated else ""
    print_tables(nodes, links, footer=f"{len(graph.nodes)} nodes, {len(graph.edges)} links{more}")


@app.command("show")
def show(
    node: Annotated[
        str,
        typer.Argument(
            metavar="NODE",
            help="data:NAME:VERSION, job:NAME, run:RUN_ID, model:NAME:VERSION,"
            " deployment:ENDPOINT/DEPLOYMENT, batch-deployment:ENDPOINT/DEPLOYMENT or monitor:NAME.",
        ),
    ],
    format_: Annotated[
        LineageFormat,
        typer.Option(
            "--format",
            "-o",
            help="table; json (the API's answer: root, nodes, edges); mermaid (a flowchart LR to paste"
            " into a pull request or Markdown page).",
        ),
    ] = LineageFormat.TABLE,
    direction: Annotated[
        Direction,
        typer.Option("--direction", help="Walk upstream (where it came from), downstream, or both."),
    ] = Direction.BOTH,
    depth: Annotated[
        int | None,
        typer.Option(
            "--depth", min=1, max=50, help="Links away from NODE at most (default: the whole chain)."
        ),
    ] = None,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Show the lineage graph around NODE: the nodes you may read, the links between them, and
    those links whose other end this workspace does not hold (unresolved)."""
    from shipyard.client.lineage import LineageOperations

    with connect(url, workspace, token) as client:
        graph = client.operations(LineageOperations).show(node, direction=direction.value, depth=depth)
    if format_ is LineageFormat.JSON:
        print_json(graph.to_json())
    elif format_ is LineageFormat.MERMAID:
        from shipyard.domain.lineage import to_mermaid

        typer.echo(to_mermaid(graph), nl=False)
    else:
        _print_table(graph)
