"""shipyard schedule …"""

from __future__ import annotations

from datetime import UTC, datetime
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
    new_table,
    print_json,
    print_tables,
)

if TYPE_CHECKING:
    from shipyard.api.schedules import Firing, Schedule

__all__ = ["app"]

app = typer.Typer(
    help="Schedules: fire a job file on a cron or recurrence trigger (Azure ML schedule YAML), as"
    " its creator. Servers with the jobs role fire them; a tick is fired once, whatever the number"
    " of servers; ticks missed while no server ran are shown by `schedule show`.",
    no_args_is_help=True,
)

NameOption = Annotated[str, typer.Option("--name", "-n", metavar="NAME", help="Name of the schedule.")]
FileOption = Annotated[
    Path,
    typer.Option(
        "--file",
        "-f",
        help="The schedule file (Azure ML CLI v2 schedule YAML): name, trigger (cron: expression,"
        " time_zone | recurrence: frequency, interval, schedule), create_job (a job file beside it,"
        " or an inline job), catch_up. A monitor file (trigger + create_monitor, Azure ML's monitor"
        " schedule) makes a monitor: see `shipyard monitor --help`.",
    ),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="PATH=VALUE",
        help="Override a field of the schedule file, e.g. --set trigger.expression='0 4 * * *'.",
    ),
]


def _when(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _trigger(schedule: Schedule) -> str:
    t = schedule.trigger
    zone = f" ({t['time_zone']})" if t.get("time_zone") not in (None, "UTC", "Etc/UTC") else ""
    if t["type"] == "cron":
        return f"cron '{t['expression']}'{zone}"
    text = f"every {t['interval']} {t['frequency']}{'s' if t['interval'] != 1 else ''}"
    if t.get("hours"):
        times = ", ".join(f"{h:02d}:{m:02d}" for h in t["hours"] for m in t["minutes"])
        text += f" at {times}"
    if t.get("week_days"):
        text += f" on {', '.join(d[:3] for d in t['week_days'])}"
    if t.get("month_days"):
        text += f" on day {', '.join(str(d) for d in t['month_days'])}"
    return text + zone


@app.command("create")
def create(
    file: FileOption,
    set_: SetOption = None,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Name (default: the file's).")] = None,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Create a schedule from a file: its job's code and local inputs are uploaded now (each
    firing runs this code), and the job is checked as you — it will run as you at every tick.

    A cron expression has 5 fields, or 6 with the second first (a Shipyard extension:
    '*/10 * * * * *' fires every 10 seconds). time_zone takes IANA names (Europe/Paris) and the
    Windows names Azure ML uses (Pacific Standard Time). catch_up: true fires the newest 10
    ticks missed while no server ran; by default they are only reported by `schedule show`.
    """
    overrides = list(set_ or [])
    if name is not None:
        overrides.append(f"name={name}")
    with connect(url, workspace, token) as client:
        from shipyard.client.schedules import ScheduleOperations

        schedule = client.operations(ScheduleOperations).create(
            file, overrides, step=lambda line: typer.echo(line, err=True)
        )
    if output is OutputFormat.JSON:
        print_json(schedule)
        return
    typer.echo(
        f"schedule {schedule.name}: {_trigger(schedule)},"
        f" fires a {schedule.job_type} job as {schedule.created_by}"
    )


@app.command("list")
def list_(
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """List the workspace's schedules by name."""
    from shipyard.client.schedules import ScheduleOperations

    with connect(url, workspace, token) as client:
        schedules = client.operations(ScheduleOperations).list()
    if output is OutputFormat.JSON:
        print_json(schedules)
        return
    table = new_table("name", "enabled", "trigger", "job", "created by", priority=("name", "trigger"))
    for s in schedules:
        table.add_row(
            cell(s.name, "bold"), cell("yes" if s.enabled else "no"), cell(_trigger(s)), cell(s.job_type),
            cell(s.created_by),
        )  # fmt: skip
    print_tables(table, footer=f"{len(schedules)} schedule{'s' if len(schedules) != 1 else ''}")


def _firing_text(f: Firing) -> tuple[str, str]:
    if f.status == "missed":
        return f"{_when(f.tick_at)} … {_when(f.last_tick_at)}", f"missed {f.missed_count}: {f.message}"
    return _when(f.tick_at), f.message


@app.command("show")
def show(
    name: NameOption,
    firings: Annotated[int, typer.Option("--firings", help="How many of the newest firings to show.")] = 20,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """A schedule: its trigger, its next ticks, its newest firings with their jobs (or why a
    tick did not fire), and the ticks missed while no server ran."""
    from shipyard.client.schedules import ScheduleOperations

    with connect(url, workspace, token) as client:
        details = client.operations(ScheduleOperations).get(name, firings=firings)
    if output is OutputFormat.JSON:
        print_json(details)
        return
    s = details.schedule
    state = "enabled" if s.enabled else "disabled"
    typer.echo(f"{s.name}: {_trigger(s)}; {state}; fires a {s.job_type} job as {s.created_by}")
    if s.catch_up:
        typer.echo("catch_up: missed ticks fire (the newest 10) when a server comes back")
    typer.echo("next: " + (", ".join(_when(t) for t in details.next_ticks) or "none"))
    table = new_table("tick", "status", "job", "what happened", priority=("tick", "status", "job"))
    for f in details.firings:
        tick, message = _firing_text(f)
        style = {"fired": "green", "failed": "red", "missed": "yellow"}.get(f.status, "")
        table.add_row(cell(tick), cell(f.status, style), cell(f.job_name or ""), cell(message))
    missed = sum(f.missed_count for f in details.firings if f.status == "missed")
    footer = f"{missed} tick{'s' if missed != 1 else ''} missed among these" if missed else ""
    print_tables(table, footer=footer)


def _switch(enable: bool, name: str, url: str | None, workspace: str | None, token: str | None) -> None:
    from shipyard.client.schedules import ScheduleOperations

    with connect(url, workspace, token) as client:
        ops = client.operations(ScheduleOperations)
        schedule = ops.enable(name) if enable else ops.disable(name)
    typer.echo(
        f"schedule {schedule.name} {'enabled: it fires from now on' if schedule.enabled else 'disabled'}"
    )


@app.command("enable")
def enable(
    name: NameOption, url: UrlOption = None, workspace: WorkspaceOption = None, token: TokenOption = None
) -> None:
    """Fire again from now on (ticks while it was disabled are neither fired nor reported missed)."""
    _switch(True, name, url, workspace, token)


@app.command("disable")
def disable(
    name: NameOption, url: UrlOption = None, workspace: WorkspaceOption = None, token: TokenOption = None
) -> None:
    """Stop firing; the schedule and its firings are kept."""
    _switch(False, name, url, workspace, token)


@app.command("delete")
def delete(
    name: NameOption, url: UrlOption = None, workspace: WorkspaceOption = None, token: TokenOption = None
) -> None:
    """Delete a schedule and its record of firings; the jobs it fired stay."""
    from shipyard.client.schedules import ScheduleOperations

    with connect(url, workspace, token) as client:
        client.operations(ScheduleOperations).delete(name)
    typer.echo(f"schedule {name} deleted")
