"""shipyard environment …"""

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
    fmt_timestamp,
    new_table,
    plural,
    print_json,
    print_tables,
)

__all__ = ["app"]

app = typer.Typer(
    help="Environments: versioned Python package specs (conda file or pip requirements) jobs run in.",
    no_args_is_help=True,
)


@app.command("create")
def create(
    file: Annotated[
        Path,
        typer.Option(
            "--file",
            "-f",
            help="The environment file (name, version, conda_file, build, image…; Azure ML's shape).",
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
    """Register an environment version. It is built (with uv, cached by the hash of its spec)
    the first time a job uses it. Azure ML's environment files are read as they are: conda
    packages are installed under their PyPI names, a Docker context's Dockerfile is read for
    its Python packages; what is left out is printed as a note."""
    with connect(url, workspace, token) as client:
        env = client.environments.create(file, list(set_ or []), step=lambda line: typer.echo(line, err=True))
    if output is OutputFormat.JSON:
        print_json(env)
        return
    typer.echo(f"environment {env.name}:{env.version} (spec {env.spec_hash})")


@app.command("list")
def list_(
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """The latest version of every environment."""
    with connect(url, workspace, token) as client:
        envs = client.environments.list()
    if output is OutputFormat.JSON:
        print_json(envs)
        return
    table = new_table("name", "version", "python", "packages", "spec hash", "created")
    for env in envs:
        table.add_row(
            cell(env.name, "bold"),
            cell(env.version),
            cell(env.spec.get("python") or "server's"),
            cell(str(len(env.spec.get("requirements") or []))),
            cell(env.spec_hash),
            cell(fmt_timestamp(env.created_at)),
        )
    print_tables(table, footer=plural(len(envs), "environment"))


@app.command("show")
def show(
    name: Annotated[str, typer.Option("--name", "-n", help="Name of the environment.")],
    version: Annotated[str | None, typer.Option("--version", "-v", help="Default: the latest.")] = None,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """One environment version with its packages."""
    with connect(url, workspace, token) as client:
        env = client.environments.get(name, version)
    if output is OutputFormat.JSON:
        print_json(env)
        return
    table = new_table("field", "value", show_header=False, title=f"environment {env.name}:{env.version}")
    table.add_row(cell("python", "bold"), cell(env.spec.get("python") or "the server's"))
    table.add_row(cell("requirements", "bold"), cell("\n".join(env.spec.get("requirements") or []) or "none"))
    if env.spec.get("image"):
        table.add_row(cell("image", "bold"), cell(f"{env.spec['image']} (not used: no container engine)"))
    table.add_row(cell("spec hash", "bold"), cell(env.spec_hash))
    table.add_row(cell("created", "bold"), cell(f"{fmt_timestamp(env.created_at)} by {env.created_by}"))
    print_tables(table)
