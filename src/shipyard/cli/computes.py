"""shipyard compute …"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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

__all__ = ["app"]

app = typer.Typer(
    help="Compute targets: where jobs run ('local' processes, built in; a 'ray' cluster).",
    no_args_is_help=True,
)


@app.command("create")
def create(
    name: Annotated[str | None, typer.Option("--name", help="Name of the compute target.")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="local or ray.")] = None,
    max_concurrent: Annotated[
        int | None,
        typer.Option("--max-concurrent", help="Jobs it runs at once; more wait in Queued [default 1]."),
    ] = None,
    address: Annotated[
        str | None, typer.Option("--address", help="For ray: the dashboard URL, e.g. http://127.0.0.1:8265.")
    ] = None,
    description: Annotated[str | None, typer.Option(help="A note for people.")] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="A compute file (name, type, max_concurrent, address)."),
    ] = None,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Register a compute target, from options or a YAML file (options win)."""
    values: dict[str, object] = {}
    if file is not None:
        from shipyard.errors import ShipyardError
        from shipyard.specs._yaml import load_spec
        from shipyard.specs.compute import ComputeSpec

        try:
            spec = load_spec(file, ComputeSpec)
        except ShipyardError as exc:
            typer.secho(f"error: {exc.message} ({exc.code})", err=True, fg="red")
            raise typer.Exit(1) from None
        values = {"name": spec.name, "kind": spec.type, "max_concurrent": spec.max_concurrent,
                  "address": spec.address, "description": spec.description}  # fmt: skip
    given = {"name": name, "kind": type_, "max_concurrent": max_concurrent, "address": address,
             "description": description}  # fmt: skip
    values |= {k: v for k, v in given.items() if v is not None}
    if not values.get("name"):
        raise typer.BadParameter("give --name (or a file with a name)", param_hint="--name")
    with connect(url, workspace, token) as client:
        compute = client.computes.create(
            str(values["name"]),
            str(values.get("kind") or "local"),
            max_concurrent=int(str(values.get("max_concurrent") or 1)),
            address=None if values.get("address") is None else str(values["address"]),
            description=None if values.get("description") is None else str(values["description"]),
        )
    if output is OutputFormat.JSON:
        print_json(compute)
        return
    typer.echo(f"compute {compute.name}: {compute.kind}, up to {compute.max_concurrent} jobs at once")


@app.command("list")
def list_(
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """List compute targets, the built-in 'local' first."""
    with connect(url, workspace, token) as client:
        computes = client.computes.list()
    if output is OutputFormat.JSON:
        print_json(computes)
        return
    table = new_table("name", "type", "max concurrent", "address", "description")
    for c in computes:
        table.add_row(
            cell(c.name, "bold"), cell(c.kind), cell(str(c.max_concurrent)), cell(c.address or ""),
            cell(c.description),
        )  # fmt: skip
    print_tables(table)


@app.command("show")
def show(
    name: Annotated[str, typer.Option("--name", "-n", help="Name of the compute target.")],
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """One compute target."""
    with connect(url, workspace, token) as client:
        compute = client.computes.get(name)
    if output is OutputFormat.JSON:
        print_json(compute)
        return
    typer.echo(
        f"{compute.name}: {compute.kind}, max {compute.max_concurrent} concurrent {compute.address or ''}"
    )


@app.command("delete")
def delete(
    name: Annotated[str, typer.Option("--name", "-n", help="Name of the compute target.")],
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Delete a compute target (jobs that ran on it keep their records)."""
    with connect(url, workspace, token) as client:
        client.computes.delete(name)
    typer.echo(f"deleted compute {name}")
