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
    type_: Annotated[
        str | None,
        typer.Option("--type", help="local or ray (a file may also say amlcompute or computeinstance)."),
    ] = None,
    max_concurrent: Annotated[
        int | None,
        typer.Option(
            "--max-concurrent",
            help="Jobs it runs at once; more wait in Queued"
            " [default 1; an amlcompute file: its max_instances].",
        ),
    ] = None,
    address: Annotated[
        str | None,
        typer.Option(
            "--address",
            help="For ray: the dashboard URL, e.g. http://127.0.0.1:8265. With an amlcompute or"
            " computeinstance file: run its jobs on that Ray cluster instead of this host.",
        ),
    ] = None,
    description: Annotated[str | None, typer.Option(help="A note for people.")] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            "-f",
            help="A compute file: Shipyard's (name, type local|ray, max_concurrent, address) or Azure"
            " ML's (type amlcompute or computeinstance; its cloud settings are ignored, with a note).",
        ),
    ] = None,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Register a compute target, from options or a YAML file (options win). An Azure ML
    cluster or compute instance file becomes a local target (or a Ray one with --address)."""
    given = {"name": name, "type": type_, "max_concurrent": max_concurrent, "address": address,
             "description": description}  # fmt: skip
    if file is None and not name:
        raise typer.BadParameter("give --name (or a file with a name)", param_hint="--name")
    with connect(url, workspace, token) as client:
        if file is not None:
            compute = client.computes.create_from_file(
                file, given, step=lambda line: typer.echo(line, err=True)
            )
        else:
            compute = client.computes.create(
                str(name),
                type_ or "local",
                max_concurrent=max_concurrent or 1,
                address=address,
                description=description,
            )
    if output is OutputFormat.JSON:
        print_json(compute)
        return
    jobs = "1 job" if compute.max_concurrent == 1 else f"{compute.max_concurrent} jobs"
    typer.echo(f"compute {compute.name}: {compute.kind}, up to {jobs} at once")


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
