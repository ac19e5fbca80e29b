"""shipyard model …"""

from __future__ import annotations

import json
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
    fmt_time,
    fmt_timestamp,
    new_table,
    now_ms,
    print_json,
    print_tables,
)

__all__ = ["app"]

app = typer.Typer(help="Registered models: list, show and history.", no_args_is_help=True)

NameArgument = Annotated[str, typer.Argument(metavar="NAME", help="Name of the registered model.")]


def _aliases(aliases: dict[str, int]) -> str:
    return ", ".join(f"{alias}=v{version}" for alias, version in sorted(aliases.items()))


@app.command("list")
def list_(
    name_like: Annotated[
        str | None,
        typer.Option(
            metavar="PATTERN",
            help="Only names matching this SQL LIKE pattern, case-insensitive, e.g. 'iris%'.",
        ),
    ] = None,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """List the registered models of a workspace."""
    with connect(url, workspace, token) as client:
        models = client.list_models(name_like=name_like)
    if output is OutputFormat.JSON:
        print_json(models)
        return
    now = now_ms()
    table = new_table("name", "latest", "aliases", "description", "updated", "updated by")
    for model in models:
        table.add_row(
            cell(model.name, "bold"),
            cell("" if model.latest_version is None else f"v{model.latest_version}"),
            cell(_aliases(model.aliases)),
            cell(model.description),
            cell(fmt_time(model.updated_at, now)),
            cell(model.updated_by),
        )
    print_tables(table, footer=f"{len(models)} model(s)")


@app.command("show")
def show(
    name: NameArgument,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Show a registered model: its info, aliases and every version."""
    with connect(url, workspace, token) as client:
        model = client.get_model(name)
        versions = client.list_model_versions(name)
    if output is OutputFormat.JSON:
        print_json({"model": model, "versions": versions})
        return
    now = now_ms()
    info = new_table("field", "value", title=f"Model {model.name}", show_header=False)
    for field, value in [
        ("description", model.description),
        ("latest version", "" if model.latest_version is None else f"v{model.latest_version}"),
        ("aliases", _aliases(model.aliases)),
        ("tags", ", ".join(f"{k}={v}" for k, v in sorted(model.tags.items()))),
        ("workspace", model.workspace),
        ("created", f"{fmt_timestamp(model.created_at)} by {model.created_by}"),
        ("updated", f"{fmt_timestamp(model.updated_at)} by {model.updated_by}"),
    ]:
        info.add_row(cell(field, "bold"), cell(value))
    table = new_table(
        "version",
        "source",
        "run id",
        "code version",
        "aliases",
        "status",
        "created by",
        "created",
        title=f"Versions ({len(versions)})",
    )
    for version in sorted(versions, key=lambda v: v.version, reverse=True):
        table.add_row(
            cell(f"v{version.version}", "bold"),
            cell(version.source),
            cell(version.run_id, "dim"),
            cell(version.code_version),
            cell(", ".join(sorted(version.aliases))),
            cell(version.status),
            cell(version.created_by),
            cell(fmt_time(version.created_at, now)),
        )
    print_tables(info, table)


@app.command("history")
def history(
    name: NameArgument,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Every change to a registered model, oldest first: who did what, and when."""
    with connect(url, workspace, token) as client:
        events = client.model_history(name)
    if output is OutputFormat.JSON:
        print_json(events)
        return
    table = new_table("when", "who", "action", "version", "detail", title=f"History of {name}")
    for event in events:
        table.add_row(
            cell(fmt_timestamp(event.at)),
            cell(event.actor, "bold"),
            cell(event.action),
            cell("" if event.version is None else f"v{event.version}"),
            # Compact JSON: the detail's shape differs per action and is small.
            cell(json.dumps(event.detail, sort_keys=True, separators=(", ", ": ")) if event.detail else ""),
        )
    print_tables(table)
