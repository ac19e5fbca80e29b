"""shipyard component …"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shipyard.cli._output import (
    OutputFormat,
    OutputOption,
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
    from shipyard.api.components import Component

__all__ = ["app"]

app = typer.Typer(
    help="Components: command components (Azure ML component YAML) registered by version;"
    " a pipeline step names one as azureml:<name>:<version> or azureml:<name>@latest.",
    no_args_is_help=True,
)


@app.command("create")
def create(
    file: Annotated[
        Path,
        typer.Option(
            "--file",
            "-f",
            help="The component file (type: command; name, version, inputs, outputs, code, command…).",
        ),
    ],
    set_: Annotated[
        list[str] | None, typer.Option("--set", metavar="PATH=VALUE", help="Override a field (repeatable).")
    ] = None,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Register a component version; its code folder is uploaded (only what the server lacks).
    Without a version in the file, the next integer version is taken."""
    from shipyard.client.components import ComponentOperations

    with connect(url, workspace, token) as client:
        made = client.operations(ComponentOperations).create(
            file, list(set_ or []), step=lambda line: typer.echo(line, err=True)
        )
    if output is OutputFormat.JSON:
        print_json(made)
        return
    typer.echo(f"component {made.name}:{made.version} ({_ports(made)})")


def _ports(c: Component) -> str:
    ins = ", ".join(f"{n}: {_type(v)}" for n, v in c.inputs.items()) or "none"
    outs = ", ".join(c.outputs) or "none"
    return f"inputs {ins}; outputs {outs}"


def _type(value: Any) -> str:
    return str(value.get("type", "?")) if isinstance(value, dict) else "?"


@app.command("list")
def list_(
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """The newest version of each component, by name."""
    from shipyard.client.components import ComponentOperations

    with connect(url, workspace, token) as client:
        found = client.operations(ComponentOperations).list()
    if output is OutputFormat.JSON:
        print_json(found)
        return
    table = new_table("name", "version", "inputs", "outputs", "deterministic", priority=("name", "version"))
    for c in found:
        table.add_row(
            cell(c.name, "bold"), cell(c.version), cell(", ".join(c.inputs)), cell(", ".join(c.outputs)),
            cell("yes" if c.is_deterministic else "no"),
        )  # fmt: skip
    print_tables(table, footer=f"{len(found)} component{'s' if len(found) != 1 else ''}")


@app.command("show")
def show(
    name: Annotated[str, typer.Option("--name", "-n", help="The component's name.")],
    version: Annotated[str, typer.Option("--version", "-v", help="A version, or 'latest'.")] = "latest",
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """One component version: its inputs, outputs, command, code and environment."""
    from shipyard.client.components import ComponentOperations

    with connect(url, workspace, token) as client:
        c = client.operations(ComponentOperations).get(name, version)
    if output is OutputFormat.JSON:
        print_json(c)
        return
    typer.echo(f"component {c.name}:{c.version}  (by {c.created_by})")
    if c.description:
        typer.echo(c.description)
    typer.echo(f"deterministic: {'yes' if c.is_deterministic else 'no'}")
    typer.echo(f"code: {c.code_digest or 'none'}")
    typer.echo(f"environment: {c.environment or 'the server interpreter'}")
    typer.echo(f"command: {c.command.strip()}")
    table = new_table("port", "name", "type", "default", priority=("port", "name"))
    for n, v in c.inputs.items():
        default = v.get("default", "") if isinstance(v, dict) else ""
        table.add_row(cell("input"), cell(n, "bold"), cell(_type(v)), cell(str(default)))
    for n, v in c.outputs.items():
        table.add_row(cell("output"), cell(n, "bold"), cell(_type(v)), cell(""))
    print_tables(table)
