"""shipyard monitor …

``monitor compare`` runs here, on this machine: it reads two Parquet files and needs no
server. Its exit status follows ``diff``'s convention so CI can tell the cases apart: 0 when
compared (drift or not, unless ``--fail-on-drift``), 1 for drift with ``--fail-on-drift``,
2 when the files could not be compared at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NoReturn

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
    print_error,
    print_json,
    print_tables,
)
from shipyard.errors import ShipyardError

__all__ = ["app"]

app = typer.Typer(help="Model monitoring: compare data, run and show monitors.", no_args_is_help=True)

# "Could not compare" must differ from "drifted" (1, with --fail-on-drift) for a CI job.
_CANNOT_COMPARE = 2


def _cannot_compare(message: str, code: str) -> NoReturn:
    print_error(message, code)
    raise typer.Exit(_CANNOT_COMPARE)


@app.command()
def compare(
    reference: Annotated[
        Path,
        typer.Option(
            "--reference", metavar="PATH", help="Parquet file of the reference data (e.g. training)."
        ),
    ],
    current: Annotated[
        Path,
        typer.Option(
            "--current", metavar="PATH", help="Parquet file of the data to check, with the same columns."
        ),
    ],
    target: Annotated[
        str | None,
        typer.Option(
            "--target",
            metavar="COL",
            help="The label or prediction column: compared too (prediction drift), but not a feature,"
            " so it counts neither toward drifted_share nor for --fail-on-drift.",
        ),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report", metavar="FILE", help="Also write a self-contained HTML report with the histograms."
        ),
    ] = None,
    fail_on_drift: Annotated[
        bool,
        typer.Option("--fail-on-drift", help="Exit with status 1 when any feature drifted (for CI)."),
    ] = False,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Compare two Parquet files column by column, with Azure ML's default drift metrics and
    thresholds (normalized Wasserstein distance for numbers, Jensen-Shannon distance for
    categories), on this machine. Exit status: 0 when compared, 1 with --fail-on-drift when a
    feature drifted, 2 when the files cannot be compared.
    """
    from shipyard.services.monitoring.compare import compare as compare_files
    from shipyard.services.monitoring.report import compare_report, render_report

    try:
        result = compare_files(reference, current, target=target, histograms=report is not None)
        if report is not None:
            page = render_report(compare_report(result, reference=str(reference), current=str(current)))
            report.write_text(page, encoding="utf-8")
    except ShipyardError as exc:
        _cannot_compare(exc.message, exc.code)
    except OSError as exc:  # the report's folder is missing or not writable
        _cannot_compare(f"{exc.filename or report}: {exc.strerror or exc}", "INVALID_ARGUMENT")
    verdicts = {"columns": result["columns"], "drifted_share": result["drifted_share"]}
    if output is OutputFormat.JSON:
        print_json(verdicts)
    else:
        _print_table(verdicts, target)
    if report is not None:
        typer.echo(f"report: {report}", err=True)
    if fail_on_drift and verdicts["drifted_share"] > 0:
        raise typer.Exit(1)


def _print_table(verdicts: dict[str, Any], target: str | None) -> None:
    from shipyard.cli._output import fmt_number

    table = new_table(
        "column", "type", "metric", "value", "threshold", "drifted", priority=("column", "drifted")
    )
    for row in verdicts["columns"]:
        style = "bold red" if row["drifted"] else ""
        name = f"{row['column']} (target)" if row["column"] == target else row["column"]
        table.add_row(
            cell(name, style),
            cell(row["type"]),
            cell(row["metric"]),
            cell(fmt_number(row["value"])),
            cell(fmt_number(row["threshold"])),
            cell("yes" if row["drifted"] else "no", style),
        )
    features = {row["column"] for row in verdicts["columns"] if row["column"] != target}
    drifted = {row["column"] for row in verdicts["columns"] if row["drifted"] and row["column"] != target}
    print_tables(
        table, footer=f"{len(drifted)} of {len(features)} features drifted ({verdicts['drifted_share']:.0%})"
    )


# -- monitors on a server ---------------------------------------------------------------

_NameOption = Annotated[
    str, typer.Option("--name", "-n", metavar="NAME", help="Name of the monitor (its schedule).")
]


def _when(ms: int | None) -> str:
    from datetime import UTC, datetime

    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _rule(row: dict[str, Any]) -> str:
    return f"{'>' if row['breach_when'] == 'above' else '<'} {row['threshold']:g}"


def _value(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


@app.command("list")
def list_(
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """List the workspace's monitors (schedules created from monitor files)."""
    from shipyard.client.monitors import MonitorOperations

    with connect(url, workspace, token) as client:
        found = client.operations(MonitorOperations).list()
    if output is OutputFormat.JSON:
        print_json(found)
        return
    table = new_table("name", "target", "signals", "enabled", priority=("name", "target"))
    for m in found:
        table.add_row(
            cell(m["name"], "bold"), cell(m.get("target") or ""),
            cell(", ".join(m["signals"]) or "(Azure's defaults)"),
            cell("yes" if m["enabled"] else "no"),
        )  # fmt: skip
    print_tables(table, footer=f"{len(found)} monitor{'s' if len(found) != 1 else ''}")


@app.command("run")
def run(
    name: _NameOption,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait/--no-wait", help="Wait for the run and show its signals (default), or return at once."
        ),
    ] = True,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Run a monitor now, as you, rather than at its next tick: a monitor job computes every
    signal, records the values as its run's metrics and the HTML report as its artifact
    (monitor/report.html), calls the webhooks and submits the retraining jobs of the signals
    that breached. Exit status 1 when the run failed; a breach is not a failure."""
    from shipyard.client.jobs import JobOperations
    from shipyard.client.monitors import MonitorOperations

    with connect(url, workspace, token) as client:
        started = client.operations(MonitorOperations).run(name)
        if not wait:
            if output is OutputFormat.JSON:
                print_json(started)
            else:
                typer.echo(f"monitor {name}: job {started['job']} submitted")
            return
        job = client.operations(JobOperations).wait(started["job"])
        details = client.operations(MonitorOperations).show(name, runs=20)
    mine = next((r for r in details["runs"] if r["job"] == started["job"]), None)
    if output is OutputFormat.JSON:
        print_json(mine or started)
    else:
        typer.echo(f"monitor {name}: job {job.name} {job.status}")
        if mine is not None:
            _print_run(mine)
    if str(job.status) != "Completed":
        raise typer.Exit(1)


def _print_run(run: dict[str, Any]) -> None:
    window = run.get("window") or {}
    typer.echo(f"window: {_when(window.get('start'))} to {_when(window.get('end'))}")
    if run.get("reference"):
        typer.echo(f"reference: {run['reference']}")
    table = new_table(
        "signal", "column", "metric", "value", "threshold", "breached", priority=("signal", "metric", "value")
    )
    for signal in run["signals"]:
        if signal.get("error"):
            table.add_row(
                cell(signal["name"], "bold"),
                cell(""),
                cell(""),
                cell(""),
                cell(""),
                cell(f"not computed: {signal['error']}", "yellow"),
            )
            continue
        for row in signal["rows"]:
            mark = "yes" if row["breached"] else ""
            table.add_row(
                cell(signal["name"], "bold"), cell(row.get("column") or ""), cell(row["metric"]),
                cell(_value(row["value"])), cell(_rule(row)), cell(mark, "red" if mark else ""),
            )  # fmt: skip
    footer = "breached: " + (", ".join(run["breached"]) or "none")
    print_tables(table, footer=footer)
    for action in run.get("actions") or []:
        if action.get("job"):
            typer.echo(f"{action['signal']}: submitted retraining job {action['job']}")
        if action.get("webhook"):
            hook = action["webhook"]
            typer.echo(
                f"{action['signal']}: webhook {hook.get('url')}:"
                f" {'ok' if hook.get('ok') else hook.get('error') or hook.get('status')}"
            )


@app.command("show")
def show(
    name: _NameOption,
    runs: Annotated[int, typer.Option("--runs", help="How many of the newest runs to show.")] = 10,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """A monitor: each signal's values over its newest runs against their thresholds, the
    breaches, and what they triggered (webhooks, retraining jobs). The newest run's full
    report is its run's artifact monitor/report.html (`shipyard run download`)."""
    from shipyard.client.monitors import MonitorOperations

    with connect(url, workspace, token) as client:
        details = client.operations(MonitorOperations).show(name, runs=runs)
    if output is OutputFormat.JSON:
        print_json(details)
        return
    monitor = details["monitor"]
    state = "enabled" if monitor["enabled"] else "disabled"
    typer.echo(f"{monitor['name']}: watches {monitor.get('target') or '(its data files)'}; {state}")
    history = list(reversed(details["runs"]))  # oldest first, as a series reads
    if not history:
        typer.echo("no runs yet: `shipyard monitor run -n NAME` runs it now")
        return
    series: dict[tuple[str, str, str], list[str]] = {}
    thresholds: dict[tuple[str, str, str], str] = {}
    for i, run_ in enumerate(history):
        for signal in run_["signals"]:
            for row in signal.get("rows") or []:
                key = (signal["name"], row.get("column") or "", row["metric"])
                values = series.setdefault(key, [""] * len(history))
                values[i] = _value(row["value"]) + ("!" if row["breached"] else "")
                thresholds[key] = _rule(row)
    shown = history[-6:]  # the newest six runs as columns; --output json has them all
    offset = len(history) - len(shown)
    table = new_table(
        "signal",
        "column",
        "metric",
        "breach when",
        *(_when(r["generated_at"] or r["created_at"]) for r in shown),
        priority=("signal", "metric"),
    )
    for key, values in series.items():
        table.add_row(
            cell(key[0], "bold"),
            cell(key[1]),
            cell(key[2]),
            cell(thresholds[key]),
            *(cell(v, "red" if v.endswith("!") else "") for v in values[offset:]),
        )
    print_tables(table, footer="! marks a breach")
    newest = details["runs"][0]
    typer.echo(
        f"newest run: job {newest['job']} ({newest['status']}),"
        f" breached: {', '.join(newest['breached']) or 'none'}"
    )
    for action in newest.get("actions") or []:
        if action.get("job"):
            typer.echo(f"  {action['signal']}: retraining job {action['job']}")
