"""shipyard run …"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shipyard.cli._output import (
    OutputFormat,
    OutputOption,
    TokenOption,
    UrlOption,
    WorkspaceOption,
    cell,
    connect,
    fail,
    fmt_duration,
    fmt_number,
    fmt_time,
    fmt_timestamp,
    new_table,
    now_ms,
    parse_columns,
    plural,
    print_json,
    print_tables,
)

if TYPE_CHECKING:
    from shipyard.cli._output import CliTable
    from shipyard.client.client import Client
    from shipyard.domain.tracking import Run

__all__ = ["app"]

app = typer.Typer(
    help="Runs: list, show, and replay what a script kept during an outage.", no_args_is_help=True
)

# Beyond about six metric/param columns a run table no longer fits a terminal; the rest are
# named under the table and shown whole by `run show` and `--output json`.
MAX_KEY_COLUMNS = 6
# Params can be long (up to 6,000 characters); the list shows a prefix, `run show` all of it.
_PARAM_CELL_CHARS = 40

_STATUS_STYLE = {
    "RUNNING": "cyan",
    "SCHEDULED": "dim",
    "FINISHED": "green",
    "FAILED": "red",
    "KILLED": "yellow",
}


@app.command("list")
def list_(
    experiment: Annotated[
        str, typer.Option("--experiment", "-e", metavar="NAME", help="Name of the experiment to search.")
    ],
    filter_: Annotated[
        str | None,
        typer.Option(
            "--filter",
            metavar="EXPR",
            help="Search expression, clauses joined by AND, "
            "e.g. \"metrics.acc > 0.9 AND params.lr = '0.1'\".",
        ),
    ] = None,
    order_by: Annotated[
        list[str] | None,
        typer.Option(
            "--order-by",
            metavar="KEY [ASC|DESC]",
            help="Sort key such as 'metrics.acc DESC' or 'attributes.start_time'; repeat for ties "
            "[default: newest first].",
        ),
    ] = None,
    max_results: Annotated[int, typer.Option(min=1, metavar="N", help="Show at most this many runs.")] = 100,
    columns: Annotated[
        str | None,
        typer.Option(
            "--columns",
            metavar="NAMES",
            show_default=False,
            help="Comma-separated columns to show, in this order, any metric or param included,"
            " e.g. 'name,status,metrics.acc' [default: those that fit the terminal].",
        ),
    ] = None,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Search the runs of an experiment."""
    chosen = parse_columns(columns)
    with connect(
        url, workspace, token, not_found="`shipyard experiment list` lists the experiments"
    ) as client:
        exp = client.get_experiment_by_name(experiment)
        runs = client.search_runs([exp.id], filter=filter_, order_by=order_by, max_results=max_results)
    if output is OutputFormat.JSON:
        print_json(runs)
        return
    table, footer = _runs_table(runs, _mentioned_keys(filter_, order_by), max_results, chosen)
    print_tables(table, footer=footer, columns=chosen, choosable=True)


def _mentioned_keys(filter_: str | None, order_by: list[str] | None) -> set[str]:
    """``metrics.acc``-style names the user filtered or sorted on: they get the first columns."""
    from shipyard.domain.filters import parse_filter, parse_order_by
    from shipyard.errors import InvalidFilter

    try:
        refs = [(c.entity, c.key) for c in parse_filter(filter_)]
        refs += [(o.entity, o.key) for o in parse_order_by(order_by)]
    except InvalidFilter:
        # The server accepted it, so it is only a grammar this client is too old to know;
        # the columns merely lose their preferred order.
        return set()
    return {f"{entity}s.{key}" for entity, key in refs}


def _key_columns(
    runs: list[Run], mentioned: set[str], chosen: list[str] | None = None
) -> tuple[list[str], list[str]]:
    """The ``metrics.x`` / ``params.y`` columns to show, and the names of those left out.

    Keys the user filtered or sorted on come first; the other slots are shared between
    metrics and params so that neither crowds the other out of the table. ``--columns``
    (``chosen``) names them instead: every key it names that a run has.
    """
    # Model metrics before the sampled system/… ones: they are what a user compares runs by.
    metrics = sorted(
        {f"metrics.{k}" for run in runs for k in run.metrics},
        key=lambda n: (n.startswith("metrics.system/"), n),
    )
    params = sorted({f"params.{k}" for run in runs for k in run.params})
    if chosen is not None:
        known = set(metrics + params)
        return [name for name in chosen if name in known], []
    first = [name for name in metrics + params if name in mentioned][:MAX_KEY_COLUMNS]
    other_metrics = [name for name in metrics if name not in mentioned]
    other_params = [name for name in params if name not in mentioned]
    room = MAX_KEY_COLUMNS - len(first)
    n_metrics = min(len(other_metrics), room - min(len(other_params), room // 2))
    n_params = min(len(other_params), room - n_metrics)
    shown = first + other_metrics[:n_metrics] + other_params[:n_params]
    return shown, [name for name in metrics + params if name not in shown]


def _key_value(run: Run, column: str) -> str:
    kind, key = column.split(".", 1)
    if kind == "metrics":
        summary = run.metrics.get(key)
        return "" if summary is None else fmt_number(summary.value)
    value = run.params.get(key, "")
    return value if len(value) <= _PARAM_CELL_CHARS else value[: _PARAM_CELL_CHARS - 1] + "…"


def _duration(run: Run, now: int) -> str:
    if run.end_time is not None:
        return fmt_duration(run.end_time - run.start_time)
    if run.status == "RUNNING":
        return fmt_duration(now - run.start_time)
    return ""


def _runs_table(
    runs: list[Run], mentioned: set[str], max_results: int, chosen: list[str] | None = None
) -> tuple[CliTable, str]:
    """The table and the line under it: how many runs, and which columns did not fit."""
    shown, hidden = _key_columns(runs, mentioned, chosen)
    notes = [plural(len(runs), "run")]
    if len(runs) >= max_results:
        notes.append(f"the first {max_results}: raise --max-results for more")
    if hidden:
        notes.append(
            f"{plural(len(hidden), 'more column')} not shown: {', '.join(hidden[:8])}"
            + (", …" if len(hidden) > 8 else "")
            + " (--columns chooses them; `shipyard run show RUN_ID` or --output json shows all)"
        )
    # In a narrow terminal: the run and what it was searched by first, its timing last.
    first = [name for name in shown if name in mentioned]
    metrics = [name for name in shown if name.startswith("metrics.") and name not in mentioned]
    table = new_table(
        "run id", "name", "status", "started", "duration", *shown,
        priority=("run id", "name", *first, "status", *metrics, "started", "duration"),
    )  # fmt: skip
    now = now_ms()
    for run in runs:
        table.add_row(
            cell(run.id, "dim"),
            cell(run.name, "bold"),
            cell(run.status.value, _STATUS_STYLE.get(run.status.value, "")),
            cell(fmt_time(run.start_time, now)),
            cell(_duration(run, now)),
            *(cell(_key_value(run, column)) for column in shown),
        )
    return table, "; ".join(notes)


@app.command("show")
def show(
    run_id: Annotated[
        str, typer.Argument(metavar="RUN_ID", help="Id of the run, as printed by `shipyard run list`.")
    ],
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Show one run: its info, params, tags and metrics."""
    with connect(
        url, workspace, token, not_found="`shipyard run list -e EXPERIMENT` lists its runs' ids"
    ) as client:
        run = client.get_run(run_id)
        experiment_name = client.get_experiment(run.experiment_id).name
    if output is OutputFormat.JSON:
        print_json(run)
        return
    now = now_ms()
    info = new_table("field", "value", title=f"Run {run.id}", show_header=False)
    started = f"{fmt_timestamp(run.start_time)} ({fmt_time(run.start_time, now)})"
    for field, value in [
        ("name", run.name),
        ("experiment", f"{experiment_name} ({run.experiment_id})"),
        ("status", run.status.value),
        ("started", started),
        ("ended", fmt_timestamp(run.end_time)),
        ("duration", _duration(run, now)),
        ("parent run", run.parent_run_id),
        ("created by", run.created_by),
        ("lifecycle", run.lifecycle_stage),
        ("artifacts", run.artifact_uri),
    ]:
        info.add_row(cell(field, "bold"), cell(value))
    params = new_table("param", "value", title=f"Params ({len(run.params)})")
    for key, value in sorted(run.params.items()):
        params.add_row(cell(key), cell(value))
    tags = new_table("tag", "value", title=f"Tags ({len(run.tags)})")
    for key, value in sorted(run.tags.items()):
        tags.add_row(cell(key), cell(value))
    metrics = new_table(
        "metric", "latest", "step", "count", "min", "max", title=f"Metrics ({len(run.metrics)})"
    )
    for key, m in sorted(run.metrics.items()):
        metrics.add_row(
            cell(key),
            cell(fmt_number(m.value), "bold"),
            cell(m.step),
            cell(m.count),
            cell(fmt_number(m.min)),
            cell(fmt_number(m.max)),
        )
    print_tables(info, params, tags, metrics)


@app.command("replay")
def replay(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="FILE",
            help="Spill files to send [default: every one in SHIPYARD_SPILL_DIR"
            " (~/.local/state/shipyard/spill) left for this server].",
        ),
    ] = None,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Send the metric points, lost-point counts and run ends that scripts kept while the
    server was down and could not send before they exited. Each batch goes with the key it
    was first sent with, so a replay twice stores nothing twice."""
    from shipyard.client._spill import leftover_files, spill_dir

    folder = spill_dir()
    paths = files or leftover_files(folder)
    if not paths:
        typer.echo(f"nothing to send: no spill file left in {folder}")
        return
    failed = 0
    with connect(url, None, token) as client:
        for path in paths:
            failed += not _replay_one(client, path, named=bool(files))
    if failed:
        fail(
            f"{plural(failed, 'file')} could not be sent and stay where they are",
            "UNAVAILABLE",
            "run `shipyard run replay` again once the reason above is fixed",
        )


def _replay_one(client: Client, path: Path, *, named: bool) -> bool:
    """One file: True when it was sent (or belongs to another server), False when it stays."""
    from shipyard.client._spill import read_leftover, replay
    from shipyard.client.client import Client

    try:
        left = read_leftover(path)
    except (ValueError, OSError) as exc:
        typer.echo(f"{path}: {exc}", err=True)
        return False
    if left is None:
        typer.echo(f"{path}: a running script is still sending it: skipped")
        return True
    owner = str(left.header.get("url", "")).rstrip("/").lower()
    if not named and owner != client.url.lower():
        typer.echo(f"{path}: kept for {owner}, not {client.url}: skipped (--url {owner} sends it)")
        return True
    workspace = left.header.get("workspace")
    target = client
    if workspace != client.http.workspace:  # the run lives in the workspace it was logged to
        target = Client(client.url, workspace=workspace, token=client.http.token)
    try:
        done = replay(target, left)
    finally:
        if target is not client:
            target.close()
    said = f"run {done.run_id}: {done.sent:,} points sent"
    said += f", {done.duplicate:,} already there" if done.duplicate else ""
    said += f", {done.lost:,} lost (tagged)" if done.lost else ""
    said += f", ended {done.status}" if done.status else ""
    if done.error:
        typer.echo(f"{path}: {said}; stopped: {done.error}", err=True)
        return False
    typer.echo(f"{said} ({path.name} removed)")
    return True
