"""shipyard batch-endpoint … and shipyard batch-deployment …"""

from __future__ import annotations

import sys
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
)

if TYPE_CHECKING:
    from shipyard.client.batch_endpoints import BatchDeployment, BatchEndpoint

__all__ = ["deployment_app", "endpoint_app"]

endpoint_app = typer.Typer(
    help="Batch endpoints: score a data asset in mini-batches, as a job, into files and SQL tables.",
    no_args_is_help=True,
)
deployment_app = typer.Typer(
    help="Batch deployments: a model with its mini-batch, retry and output settings.",
    no_args_is_help=True,
)

EndpointName = Annotated[str, typer.Option("--name", "-n", help="Name of the batch endpoint.")]
EndpointOfDeployment = Annotated[
    str, typer.Option("--endpoint-name", "-e", help="Name of the batch endpoint.")
]
DeploymentName = Annotated[str, typer.Option("--name", "-n", help="Name of the deployment.")]
FileOption = Annotated[Path, typer.Option("--file", "-f", help="The file (Azure ML batch YAML).")]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set", metavar="PATH=VALUE", help="Override a field of the file, e.g. --set compute=local."
    ),
]
EndpointOverride = Annotated[
    str | None, typer.Option("--endpoint-name", "-e", help="Endpoint (default: the file's).")
]
NameOverride = Annotated[str | None, typer.Option("--name", "-n", help="Name (default: the file's).")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Accepted for the Azure CLI's sake; no prompt.")]


# -- batch-endpoint --------------------------------------------------------------------


def _show_endpoint(endpoint: BatchEndpoint, output: OutputFormat) -> None:
    if output is OutputFormat.JSON:
        print_json(endpoint)
        return
    info = new_table("field", "value", show_header=False, title=f"batch endpoint {endpoint.name}")
    for key, value in (
        ("default deployment", endpoint.default_deployment or "(none)"),
        ("description", endpoint.description),
        ("tags", " ".join(f"{k}={v}" for k, v in endpoint.tags.items())),
        ("created", f"{fmt_timestamp(endpoint.created_at)} by {endpoint.created_by}"),
    ):
        info.add_row(cell(key, "bold"), cell(value))
    print_tables(info)
    for note in endpoint.notes:
        typer.secho(f"note: {note}", err=True)


@endpoint_app.command("create")
def endpoint_create(
    file: FileOption,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Name (default: the file's).")] = None,
    set_: SetOption = None,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Create a batch endpoint (name, description, tags)."""
    overrides = [*(set_ or []), *([f"name={name}"] if name else [])]
    with connect(url, workspace, token) as client:
        endpoint = client.batch_endpoints.create(file, overrides)
    _show_endpoint(endpoint, output)


@endpoint_app.command("show")
def endpoint_show(
    name: EndpointName,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """A batch endpoint and its default deployment."""
    with connect(url, workspace, token) as client:
        endpoint = client.batch_endpoints.get(name)
    _show_endpoint(endpoint, output)


@endpoint_app.command("list")
def endpoint_list(
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """List batch endpoints by name."""
    with connect(url, workspace, token) as client:
        endpoints = client.batch_endpoints.list()
    if output is OutputFormat.JSON:
        print_json(endpoints)
        return
    table = new_table("name", "default deployment", "description")
    for e in endpoints:
        table.add_row(cell(e.name, "bold"), cell(e.default_deployment or ""), cell(e.description))
    print_tables(table, footer=plural(len(endpoints), "batch endpoint"))


@endpoint_app.command("delete")
def endpoint_delete(
    name: EndpointName,
    yes: Yes = False,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Delete a batch endpoint with its deployments (the jobs it ran stay)."""
    del yes
    with connect(url, workspace, token) as client:
        client.batch_endpoints.delete(name)
    typer.secho(f"batch endpoint {name} deleted", err=True)


@endpoint_app.command("invoke")
def endpoint_invoke(
    name: EndpointName,
    input_: Annotated[
        str,
        typer.Option("--input", "-i", help="The data asset: azureml:<name>@latest or azureml:<name>:<v>."),
    ],
    deployment_name: Annotated[
        str | None, typer.Option("--deployment-name", "-d", help="Default: the endpoint's default.")
    ] = None,
    job_name: Annotated[str | None, typer.Option("--job-name", help="Name of the job.")] = None,
    stream: Annotated[
        bool, typer.Option("--stream", help="Follow the job's log; exit 0 only if it Completed.")
    ] = False,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Score a data asset in mini-batches as a job; prints the job's name (--stream follows it)."""
    from shipyard.cli.jobs import _exit_for, _print_outcome, _stream

    with connect(url, workspace, token) as client:
        job = client.batch_endpoints.invoke(name, input_, deployment_name=deployment_name, job_name=job_name)
        if output is OutputFormat.JSON and not stream:
            print_json(job)
            return
        typer.secho(f"job {job.name} queued on compute {job.compute!r} (run {job.run_id})", err=True)
        if not stream:
            typer.echo(job.name)
            return
        final = _stream(client, job.name)
    _print_outcome(final)
    if output is OutputFormat.JSON:
        print_json(final)
    _exit_for(final)


@endpoint_app.command("list-jobs")
def endpoint_list_jobs(
    name: EndpointName,
    max_results: Annotated[int, typer.Option("--max-results", help="At most this many jobs.")] = 100,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """The endpoint's jobs, newest first."""
    with connect(url, workspace, token) as client:
        jobs = client.batch_endpoints.list_jobs(name, max_results)
    if output is OutputFormat.JSON:
        print_json(jobs)
        return
    table = new_table("job", "status", "deployment", "input", "created")
    for j in jobs:
        # What invoke recorded in the job's file: the deployment that scored, the data it read.
        invoked = j.spec.get("file") or {}
        table.add_row(
            cell(j.name, "bold"),
            cell(str(j.status)),
            cell(invoked.get("deployment")),
            cell(invoked.get("input")),
            cell(fmt_timestamp(j.created_at)),
        )
    print_tables(table, footer=plural(len(jobs), "job"))


# -- batch-deployment ------------------------------------------------------------------


def _show_deployment(d: BatchDeployment, output: OutputFormat) -> None:
    if output is OutputFormat.JSON:
        print_json(d)
        return
    model = d.model
    settings = d.settings
    retry = settings.get("retry_settings") or {}
    info = new_table(
        "field", "value", show_header=False, title=f"batch deployment {d.endpoint_name}/{d.name}"
    )
    for key, value in (
        (
            "model",
            f"{model.get('name') or 'uploaded folder'}:{model.get('version') or ''} ({model.get('kind')})",
        ),
        ("compute", d.compute),
        ("mini_batch_size", str(settings.get("mini_batch_size"))),
        ("max_concurrency_per_instance", str(settings.get("max_concurrency_per_instance"))),
        ("retry_settings", f"max_retries={retry.get('max_retries')} timeout={retry.get('timeout')}s"),
        ("error_threshold", str(settings.get("error_threshold"))),
        ("output", f"{settings.get('output_action')} → outputs/{settings.get('output_file_name')}"),
        ("sql output", "" if d.output is None else f"{d.output['table']} in {d.output['sql_url']}"),
        ("created", f"{fmt_timestamp(d.created_at)} by {d.created_by}"),
        ("updated", fmt_timestamp(d.updated_at)),
    ):
        info.add_row(cell(key, "bold"), cell(value))
    print_tables(info)


@deployment_app.command("create")
def deployment_create(
    file: FileOption,
    endpoint_name: EndpointOverride = None,
    name: NameOverride = None,
    set_default: Annotated[
        bool, typer.Option("--set-default", help="Make it the endpoint's default deployment.")
    ] = False,
    set_: SetOption = None,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Create a batch deployment: upload its local model and code; the first one of an endpoint
    (or one created with --set-default) is what invoke uses."""
    overrides = _overrides(set_, endpoint_name, name)
    with connect(url, workspace, token) as client:
        d = client.batch_deployments.create(
            file, overrides, set_default=set_default, step=lambda line: typer.echo(line, err=True)
        )
    typer.secho(f"batch deployment {d.endpoint_name}/{d.name} created", fg="green", err=True)
    _show_deployment(d, output)


@deployment_app.command("update")
def deployment_update(
    file: FileOption,
    endpoint_name: EndpointOverride = None,
    name: NameOverride = None,
    set_: SetOption = None,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Replace an existing batch deployment's model, code and settings with its file (checked
    as on create); jobs already started keep theirs, the next invoke uses the new ones."""
    overrides = _overrides(set_, endpoint_name, name)
    with connect(url, workspace, token) as client:
        d = client.batch_deployments.update(file, overrides, step=lambda line: typer.echo(line, err=True))
    typer.secho(f"batch deployment {d.endpoint_name}/{d.name} updated", fg="green", err=True)
    _show_deployment(d, output)


def _overrides(set_: list[str] | None, endpoint_name: str | None, name: str | None) -> list[str]:
    """--set first, then -e/--name: the options win over the file and over --set."""
    overrides = [*(set_ or [])]
    overrides += [f"endpoint_name={endpoint_name}"] if endpoint_name else []
    overrides += [f"name={name}"] if name else []
    return overrides


@deployment_app.command("show")
def deployment_show(
    name: DeploymentName,
    endpoint_name: EndpointOfDeployment,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """A batch deployment's model, compute and settings."""
    with connect(url, workspace, token) as client:
        d = client.batch_deployments.get(endpoint_name, name)
    _show_deployment(d, output)


@deployment_app.command("list")
def deployment_list(
    endpoint_name: EndpointOfDeployment,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """List an endpoint's batch deployments by name."""
    with connect(url, workspace, token) as client:
        found = client.batch_deployments.list(endpoint_name)
    if output is OutputFormat.JSON:
        print_json(found)
        return
    table = new_table("name", "model", "compute", "mini_batch_size", "sql output")
    for d in found:
        table.add_row(
            cell(d.name, "bold"),
            cell(f"{d.model.get('name') or 'upload'}:{d.model.get('version') or ''}"),
            cell(d.compute),
            cell(str(d.settings.get("mini_batch_size"))),
            cell("" if d.output is None else d.output["table"]),
        )
    print_tables(table, footer=plural(len(found), "deployment"))


@deployment_app.command("delete")
def deployment_delete(
    name: DeploymentName,
    endpoint_name: EndpointOfDeployment,
    yes: Yes = False,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Delete a batch deployment (the jobs it ran stay)."""
    del yes
    with connect(url, workspace, token) as client:
        client.batch_deployments.delete(endpoint_name, name)
    typer.secho(f"batch deployment {endpoint_name}/{name} deleted", err=True)
    sys.stderr.flush()
