"""shipyard job …"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
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
    fmt_timestamp,
    new_table,
    plural,
    print_json,
    print_tables,
    to_jsonable,
)

if TYPE_CHECKING:
    from shipyard.client.client import Client, Progress
    from shipyard.domain.jobs import Job

__all__ = ["app"]

app = typer.Typer(
    help="Jobs: run a command job file (Azure ML CLI v2 shape) on a compute target, as a tracked run.",
    no_args_is_help=True,
)

NameOption = Annotated[str, typer.Option("--name", "-n", help="Name of the job.")]
FileOption = Annotated[
    Path,
    typer.Option(
        "--file",
        "-f",
        exists=False,
        help="The job file (Azure ML CLI v2 YAML: a command, sweep or pipeline job).",
    ),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="PATH=VALUE",
        help="Override a field of the file, e.g. --set inputs.C=0.5 --set compute=azureml:cpu (repeatable).",
    ),
]


@contextmanager
def _upload_progress() -> Iterator[Progress]:
    """A rich progress bar that appears only when there are bytes to send."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    bar = Progress(
        "[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
        transient=True, disable=not sys.stderr.isatty(),
    )  # fmt: skip
    task = bar.add_task("uploading", total=None, visible=False)

    def report(done: int, total: int) -> None:
        if total:
            bar.update(task, completed=done, total=total, visible=True)

    with bar:
        yield report


def _exit_for(job: Job) -> None:
    from shipyard.domain.jobs import JobStatus

    if job.status is JobStatus.COMPLETED:
        return
    raise typer.Exit(1)


def _print_outcome(job: Job) -> None:
    color = {"Completed": "green", "Failed": "red", "Canceled": "yellow"}.get(str(job.status))
    typer.secho(f"job {job.name}: {job.status}", fg=color, err=True)
    if job.failure is not None:
        typer.secho(f"  cause: {job.failure.cause}: {job.failure.message}", fg="red", err=True)
        if job.failure.log_tail and job.failure.cause != "exit_code":
            typer.secho("  last lines of the log:", err=True)
            for line in job.failure.log_tail.splitlines()[-10:]:
                typer.echo(f"    {line}", err=True)


def _stream(client: Client, name: str) -> Job:
    out = sys.stdout.buffer
    for chunk in client.jobs.stream(name):
        out.write(chunk)
        out.flush()
    return client.jobs.wait(name, poll_s=0.2)


@app.command("create")
def create(
    file: FileOption,
    set_: SetOption = None,
    name: Annotated[
        str | None, typer.Option("--name", "-n", help="Name of the job (default: generated).")
    ] = None,
    stream: Annotated[
        bool, typer.Option("--stream", help="Follow the job's log; exit 0 only if it Completed.")
    ] = False,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Submit a job file: a command job, a sweep (`type: sweep`: trials as child jobs) or a
    pipeline (`type: pipeline`: steps as child jobs, reused when nothing they read changed).
    Uploads its code (only files the server lacks) and local inputs, then queues it. Without
    --stream it returns once the job is queued."""
    overrides = list(set_ or [])
    if name is not None:
        overrides.append(f"name={name}")
    with connect(url, workspace, token) as client, _upload_progress() as progress:
        job = client.jobs.create(
            file, overrides, step=lambda line: typer.echo(line, err=True), progress=progress
        )
        if output is OutputFormat.JSON and not stream:
            print_json(job)
            return
        typer.secho(
            f"job {job.name} queued on compute {job.compute!r}"
            f" (run {job.run_id}, experiment {job.experiment_id})",
            err=True,
        )
        if not stream:
            typer.echo(job.name)
            return
        final = _stream(client, job.name)
    _print_outcome(final)
    if output is OutputFormat.JSON:
        print_json(final)
    _exit_for(final)


@app.command("stream")
def stream_(
    name: NameOption, url: UrlOption = None, workspace: WorkspaceOption = None, token: TokenOption = None
) -> None:
    """Follow a job's log (preparation, then stdout and stderr) until it ends; exit 0 only if
    it Completed."""
    with connect(url, workspace, token) as client:
        final = _stream(client, name)
    _print_outcome(final)
    _exit_for(final)


@app.command("show")
def show(
    name: NameOption,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """A job's status, its timeline, its cause of failure and where its run is.

    A sweep or a pipeline also shows its children (trials, steps), each with what its type
    says of it: the best trial and its parameters, a stopped trial's rule and step, a step
    reused from an earlier job or why it ran."""
    with connect(url, workspace, token) as client:
        job = client.jobs.get(name)
        children = [] if job.leaf else client.jobs.list(parent=job.name, max_results=1000)
    if output is OutputFormat.JSON:
        print_json({**to_jsonable(job), "children": to_jsonable(children)} if not job.leaf else job)
        return
    info = new_table("field", "value", show_header=False, title=f"{job.type} job {job.name}")
    if job.parent:
        info.add_row(cell("parent", "bold"), cell(f"{job.parent} (step {job.step})"))
    for key, value in (
        ("status", str(job.status)),
        ("display name", job.display_name),
        ("compute", job.compute),
        ("run", job.run_id),
        ("experiment", job.experiment_id),
        ("command", job.command),
        ("code snapshot", job.code_digest or ""),
        ("environment", job.environment_hash or ""),
        ("timeout", "" if job.timeout_s is None else f"{job.timeout_s:g} s"),
        ("created", f"{fmt_timestamp(job.created_at)} by {job.created_by}"),
    ):
        if value or job.leaf:  # a sweep or pipeline has no code, environment of its own
            info.add_row(cell(key, "bold"), cell(value))
    if job.failure is not None:
        info.add_row(cell("cause", "bold red"), cell(f"{job.failure.cause}: {job.failure.message}", "red"))
    if job.canceled_by:
        info.add_row(cell("canceled by", "bold"), cell(job.canceled_by))
    for line in _summary(job.report):
        info.add_row(cell("", "bold"), cell(line, "green"))
    timeline = new_table("status", "at", "message", title="timeline")
    for event in job.events:
        timeline.add_row(cell(str(event.status), "bold"), cell(fmt_timestamp(event.at)), cell(event.message))
    if job.leaf:
        print_tables(info, timeline)
        return
    extra = []
    if job.type == "automl":
        from shipyard.cli.automl import automl_tables

        extra = automl_tables(job)
    notes = job.report.get("children") if isinstance(job.report.get("children"), dict) else {}
    steps = new_table("step", "job", "status", "why", title="trials" if job.type != "pipeline" else "steps")
    for child in sorted(children, key=lambda c: c.created_at):
        note = notes.get(child.step or "", "") if isinstance(notes, dict) else ""
        steps.add_row(
            cell(child.step or "", "bold"), cell(child.name), cell(str(child.status)), cell(str(note))
        )
    print_tables(info, *extra, steps, timeline)


def _summary(report: dict[str, object]) -> list[str]:
    """The lines a job's type puts first (``report.summary``: a sweep's best trial…)."""
    summary = report.get("summary")
    if isinstance(summary, str):
        return [summary]
    if isinstance(summary, list):
        return [str(line) for line in summary]
    return []


@app.command("list")
def list_(
    status: Annotated[
        list[str] | None,
        typer.Option("--status", help="Only jobs in this status, e.g. Running (repeatable)."),
    ] = None,
    max_results: Annotated[int, typer.Option(help="Most jobs to list, newest first.")] = 50,
    parent: Annotated[
        str | None,
        typer.Option("--parent", help="List the children (trials, steps) of this sweep or pipeline job."),
    ] = None,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """List top-level jobs, newest first (with --parent: a sweep's trials, a pipeline's steps)."""
    with connect(url, workspace, token) as client:
        jobs = client.jobs.list(status, max_results, parent=parent)
    if output is OutputFormat.JSON:
        print_json(jobs)
        return
    table = new_table("name", "type", "status", "compute", "created", "display name", "cause")
    for job in jobs:
        table.add_row(
            cell(job.name, "bold"),
            cell(job.type),
            cell(str(job.status)),
            cell(job.compute),
            cell(fmt_timestamp(job.created_at)),
            cell(job.display_name),
            cell("" if job.failure is None else str(job.failure.cause)),
        )
    print_tables(table, footer=plural(len(jobs), "job"))


@app.command("cancel")
def cancel(
    name: NameOption, url: UrlOption = None, workspace: WorkspaceOption = None, token: TokenOption = None
) -> None:
    """Cancel a job: a queued one at once, a running one by killing its whole process tree."""
    with connect(url, workspace, token) as client:
        job = client.jobs.cancel(name)
        if not job.done:
            job = client.jobs.wait(name, poll_s=0.2, timeout_s=60)
    _print_outcome(job)


@app.command("download")
def download(
    name: NameOption,
    output_name: Annotated[
        str | None, typer.Option("--output-name", help="Only this named output (default: all, and the logs).")
    ] = None,
    download_path: Annotated[Path, typer.Option("--download-path", help="Folder to write into.")] = Path("."),
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Download a job's outputs and logs into DOWNLOAD_PATH/<job name>/."""
    with connect(url, workspace, token) as client:
        written = client.jobs.download(name, download_path, output_name)
    for path in written:
        typer.echo(str(path))
    typer.secho(f"{len(written)} files", err=True)
