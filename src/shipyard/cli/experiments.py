"""shipyard experiment …"""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from shipyard.cli._output import (
    ColumnsOption,
    OutputFormat,
    OutputOption,
    TokenOption,
    UrlOption,
    WorkspaceOption,
    cell,
    connect,
    fmt_time,
    new_table,
    now_ms,
    parse_columns,
    plural,
    print_json,
    print_tables,
)

__all__ = ["app"]

app = typer.Typer(help="Experiments: list them.", no_args_is_help=True)


class View(enum.StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"
    ALL = "all"


@app.command("list")
def list_(
    view: Annotated[
        View, typer.Option(case_sensitive=False, help="Which experiments: active, deleted or all.")
    ] = View.ACTIVE,
    columns: ColumnsOption = None,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """List the experiments of a workspace."""
    chosen = parse_columns(columns)
    with connect(url, workspace, token) as client:
        experiments = client.list_experiments(view=view.value)
    if output is OutputFormat.JSON:
        print_json(experiments)
        return
    now = now_ms()
    table = new_table("id", "name", "stage", "created", "created by", "tags", priority=("name", "id"))
    for exp in experiments:
        tags = ", ".join(f"{k}={v}" for k, v in sorted(exp.tags.items()))
        table.add_row(
            cell(exp.id, "dim"),
            cell(exp.name, "bold"),
            cell(exp.lifecycle_stage),
            cell(fmt_time(exp.created_at, now)),
            cell(exp.created_by),
            cell(tags),
        )
    print_tables(table, footer=plural(len(experiments), "experiment"), columns=chosen, choosable=True)
