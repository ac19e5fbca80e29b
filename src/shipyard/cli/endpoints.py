"""shipyard online-endpoint … and shipyard online-deployment …"""

from __future__ import annotations

import sys
import time
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
    from shipyard.client.client import Client
    from shipyard.client.endpoints import OnlineDeployment, OnlineEndpoint

__all__ = ["deployment_app", "endpoint_app"]

endpoint_app = typer.Typer(
    help="Online endpoints: a stable scoring URL with keys, splitting traffic across deployments.",
    no_args_is_help=True,
)
deployment_app = typer.Typer(
    help="Online deployments: a model served by worker processes behind an online endpoint.",
    no_args_is_help=True,
)

EndpointName = Annotated[str, typer.Option("--name", "-n", help="Name of the endpoint.")]
EndpointOfDeployment = Annotated[str, typer.Option("--endpoint-name", "-e", help="Name of the endpoint.")]
DeploymentName = Annotated[str, typer.Option("--name", "-n", help="Name of the deployment.")]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set", metavar="PATH=VALUE", help="Override a field of the file, e.g. --set instance_count=2."
    ),
]
NoWait = Annotated[
    bool, typer.Option("--no-wait", help="Return at once instead of waiting until it is ready.")
]


# -- online-endpoint -------------------------------------------------------------------


def _show_endpoint(endpoint: OnlineEndpoint, output: OutputFormat) -> None:
    if output is OutputFormat.JSON:
        print_json(endpoint)
        return
    info = new_table("field", "value", show_header=False, title=f"online endpoint {endpoint.name}")
    for key, value in (
        ("scoring uri", endpoint.scoring_uri),
        ("auth mode", endpoint.auth_mode),
        ("traffic", _weights(endpoint.traffic)),
        ("mirror traffic", _weights(endpoint.mirror_traffic)),
        ("description", endpoint.description),
        ("tags", " ".join(f"{k}={v}" for k, v in endpoint.tags.items())),
        ("created", f"{fmt_timestamp(endpoint.created_at)} by {endpoint.created_by}"),
    ):
        info.add_row(cell(key, "bold"), cell(value))
    print_tables(info)


def _weights(weights: dict[str, int]) -> str:
    return " ".join(f"{k}={v}" for k, v in weights.items())


@endpoint_app.command("create")
def endpoint_create(
    file: Annotated[Path, typer.Option("--file", "-f", help="The endpoint file (Azure ML endpoint YAML).")],
    name: Annotated[str | None, typer.Option("--name", "-n", help="Name (default: the file's).")] = None,
    set_: SetOption = None,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Create an online endpoint (name, auth_mode key|none, description, tags)."""
    overrides = [*(set_ or []), *([f"name={name}"] if name else [])]
    with connect(url, workspace, token) as client:
        endpoint = client.online_endpoints.create(file, overrides)
    _show_endpoint(endpoint, output)


@endpoint_app.command("show")
def endpoint_show(
    name: EndpointName,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """An endpoint's scoring URI, auth mode and traffic."""
    with connect(url, workspace, token) as client:
        endpoint = client.online_endpoints.get(name)
    _show_endpoint(endpoint, output)


@endpoint_app.command("list")
def endpoint_list(
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """List online endpoints by name."""
    with connect(url, workspace, token) as client:
        endpoints = client.online_endpoints.list()
    if output is OutputFormat.JSON:
        print_json(endpoints)
        return
    table = new_table("name", "auth", "traffic", "mirror", "scoring uri")
    for e in endpoints:
        table.add_row(
            cell(e.name, "bold"),
            cell(e.auth_mode),
            cell(_weights(e.traffic)),
            cell(_weights(e.mirror_traffic)),
            cell(e.scoring_uri),
        )
    print_tables(table, footer=plural(len(endpoints), "endpoint"))


@endpoint_app.command("update")
def endpoint_update(
    name: EndpointName,
    traffic: Annotated[
        str | None,
        typer.Option("--traffic", help='Live traffic split, e.g. "blue=90 green=10" (sums to 100).'),
    ] = None,
    mirror_traffic: Annotated[
        str | None,
        typer.Option("--mirror-traffic", help='Share of live requests copied, e.g. "green=10" (≤ 50).'),
    ] = None,
    description: Annotated[str | None, typer.Option("--description", help="A new description.")] = None,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Shift traffic between deployments, mirror a share to a shadow, change the description."""
    with connect(url, workspace, token) as client:
        endpoint = client.online_endpoints.update(
            name, traffic=traffic, mirror_traffic=mirror_traffic, description=description
        )
    _show_endpoint(endpoint, output)


@endpoint_app.command("delete")
def endpoint_delete(
    name: EndpointName,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Accepted for the Azure CLI's sake; no prompt.")
    ] = False,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Delete an endpoint with all its deployments (their workers are stopped)."""
    del yes
    with connect(url, workspace, token) as client:
        client.online_endpoints.delete(name)
    typer.secho(f"online endpoint {name} deleted", err=True)


@endpoint_app.command("get-credentials")
def endpoint_get_credentials(
    name: EndpointName,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """The endpoint's keys; --output json prints {"primaryKey", "secondaryKey"} as the Azure CLI."""
    with connect(url, workspace, token) as client:
        keys = client.online_endpoints.get_keys(name)
    if output is OutputFormat.JSON:
        print_json(keys)
        return
    table = new_table("key", "value")
    for key, value in keys.items():
        table.add_row(cell(key, "bold"), cell(value))
    print_tables(table)


@endpoint_app.command("regenerate-keys")
def endpoint_regenerate_keys(
    name: EndpointName,
    key_type: Annotated[str, typer.Option("--key-type", help="primary or secondary.")] = "primary",
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Replace one key; the other keeps working, so clients can switch without downtime."""
    with connect(url, workspace, token) as client:
        client.online_endpoints.regenerate_keys(name, key_type)
    typer.secho(f"the {key_type} key of {name} was regenerated", err=True)


@endpoint_app.command("invoke")
def endpoint_invoke(
    name: EndpointName,
    request_file: Annotated[Path, typer.Option("--request-file", "-r", help="JSON request body to score.")],
    deployment_name: Annotated[
        str | None, typer.Option("--deployment-name", "-d", help="Send it to this deployment only.")
    ] = None,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Score a request with the endpoint's key, as a client application would."""
    with connect(url, workspace, token) as client:
        answer = client.online_endpoints.invoke(name, request_file, deployment_name=deployment_name)
    print_json(answer)


# -- online-deployment -----------------------------------------------------------------


def _show_deployment(d: OnlineDeployment, output: OutputFormat) -> None:
    if output is OutputFormat.JSON:
        print_json(d)
        return
    info = new_table(
        "field", "value", show_header=False, title=f"online deployment {d.endpoint_name}/{d.name}"
    )
    model = d.model
    described = f"{model.get('name')}:{model.get('version')}" if model.get("name") else "uploaded folder"
    for key, value in (
        ("state", d.provisioning_state),
        ("model", f"{described} ({model.get('kind', '')})" if model else ""),
        ("instances", str(d.instance_count)),
        ("revision", d.revision),
        ("description", d.description),
        ("created", f"{fmt_timestamp(d.created_at)} by {d.created_by}"),
        ("updated", fmt_timestamp(d.updated_at)),
    ):
        info.add_row(cell(key, "bold"), cell(value))
    if d.reason:
        info.add_row(cell("reason", "bold red"), cell(d.reason, "red"))
    for note in d.notes:
        info.add_row(cell("note", "dim"), cell(note, "dim"))
    print_tables(info)


def _follow(client: Client, d: OnlineDeployment) -> OnlineDeployment:
    """Print the deployment's preparation log as it is written (model download, environment
    build with uv's output, workers starting and their probes) under a spinner naming the
    current stage, until it is Succeeded or Failed."""
    from rich.console import Console
    from rich.text import Text

    console = Console(stderr=True, markup=False, highlight=False)
    began = time.monotonic()
    stage = ["waiting for the server to start on it"]

    def status_line() -> str:
        return f"{d.endpoint_name}/{d.name}: {stage[0]} ({time.monotonic() - began:.0f} s)"

    with console.status(status_line()) as status:

        def show(text: str) -> None:
            for line in text.splitlines():
                console.print(Text(line, style=_style(line)), soft_wrap=True)  # the terminal wraps
                if not line.startswith(" "):
                    stage[0] = line.split(":", 1)[0]
            status.update(status_line())

        return client.online_deployments.follow(d, show, on_poll=lambda _now: status.update(status_line()))


def _style(line: str) -> str:
    if line.startswith(" "):
        return "dim"  # uv's own output
    if line.startswith("failed:") or ": failed:" in line or ": crashed:" in line:
        return "red"
    if line.endswith("every worker is ready") or "ready after" in line:
        return "green"
    return ""


def _outcome(d: OnlineDeployment) -> None:
    color = {"Succeeded": "green", "Failed": "red"}.get(d.provisioning_state)
    typer.secho(f"online deployment {d.endpoint_name}/{d.name}: {d.provisioning_state}", fg=color, err=True)
    if d.reason:
        typer.secho(f"  reason: {d.reason}", fg="red", err=True)
        typer.secho(f"  more: shipyard online-deployment get-logs -n {d.name} -e {d.endpoint_name}", err=True)


def _submit(
    file: Path, set_: list[str] | None, endpoint_name: str | None, name: str | None, *, update: bool,
    all_traffic: bool, no_wait: bool, output: OutputFormat, url: str | None, workspace: str | None,
    token: str | None,
) -> None:  # fmt: skip
    overrides = [*(set_ or [])]
    if endpoint_name:
        overrides.append(f"endpoint_name={endpoint_name}")
    if name:
        overrides.append(f"name={name}")
    with connect(url, workspace, token) as client:
        ops = client.online_deployments
        send = ops.update if update else ops.create
        say = lambda line: typer.echo(line, err=True)  # noqa: E731
        d = send(file, overrides, all_traffic=all_traffic, step=say)
        typer.secho(f"online deployment {d.endpoint_name}/{d.name}: {d.provisioning_state}", err=True)
        if not no_wait:
            d = _follow(client, d)
    if output is OutputFormat.JSON:
        print_json(d)
    if not no_wait:
        _outcome(d)
        if d.provisioning_state != "Succeeded":
            raise typer.Exit(1)


FileOption = Annotated[
    Path, typer.Option("--file", "-f", help="The deployment file (Azure ML deployment YAML).")
]
EndpointOverride = Annotated[
    str | None, typer.Option("--endpoint-name", "-e", help="Endpoint (default: the file's endpoint_name).")
]
NameOverride = Annotated[str | None, typer.Option("--name", "-n", help="Name (default: the file's).")]


@deployment_app.command("create")
def deployment_create(
    file: FileOption,
    endpoint_name: EndpointOverride = None,
    name: NameOverride = None,
    all_traffic: Annotated[
        bool, typer.Option("--all-traffic", help="Send it 100% of live traffic once ready.")
    ] = False,
    no_wait: NoWait = False,
    set_: SetOption = None,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Deploy a model: upload its local model and code, start its workers, wait until every one
    is ready (exit 1 if it Failed, with the reason)."""
    _submit(file, set_, endpoint_name, name, update=False, all_traffic=all_traffic, no_wait=no_wait,
            output=output, url=url, workspace=workspace, token=token)  # fmt: skip


@deployment_app.command("update")
def deployment_update(
    file: FileOption,
    endpoint_name: EndpointOverride = None,
    name: NameOverride = None,
    no_wait: NoWait = False,
    set_: SetOption = None,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Roll out a new revision: new workers are ready before the old ones stop."""
    _submit(file, set_, endpoint_name, name, update=True, all_traffic=False, no_wait=no_wait,
            output=output, url=url, workspace=workspace, token=token)  # fmt: skip


@deployment_app.command("show")
def deployment_show(
    name: DeploymentName,
    endpoint_name: EndpointOfDeployment,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """A deployment's state (and why it Failed), model, instances and revision."""
    with connect(url, workspace, token) as client:
        d = client.online_deployments.get(endpoint_name, name)
    _show_deployment(d, output)


@deployment_app.command("list")
def deployment_list(
    endpoint_name: EndpointOfDeployment,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """List an endpoint's deployments."""
    with connect(url, workspace, token) as client:
        found = client.online_deployments.list(endpoint_name)
        traffic = client.online_endpoints.get(endpoint_name).traffic
    if output is OutputFormat.JSON:
        print_json(found)
        return
    table = new_table("name", "state", "traffic", "instances", "model", "reason")
    for d in found:
        model = f"{d.model.get('name')}:{d.model.get('version')}" if d.model.get("name") else ""
        table.add_row(
            cell(d.name, "bold"),
            cell(d.provisioning_state),
            cell(f"{traffic.get(d.name, 0)}%"),
            cell(str(d.instance_count)),
            cell(model),
            cell(d.reason),
        )
    print_tables(table, footer=plural(len(found), "deployment"))


@deployment_app.command("delete")
def deployment_delete(
    name: DeploymentName,
    endpoint_name: EndpointOfDeployment,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Accepted for the Azure CLI's sake; no prompt.")
    ] = False,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Delete a deployment and stop its workers; refused while it receives traffic."""
    del yes
    with connect(url, workspace, token) as client:
        client.online_deployments.delete(endpoint_name, name)
    typer.secho(f"online deployment {endpoint_name}/{name} deleted", err=True)


@deployment_app.command("get-logs")
def deployment_get_logs(
    name: DeploymentName,
    endpoint_name: EndpointOfDeployment,
    lines: Annotated[int, typer.Option("--lines", "-l", help="How many of the last lines.")] = 100,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """The deployment's log: preparation (model, code, environment), then its workers' output."""
    with connect(url, workspace, token) as client:
        text = client.online_deployments.get_logs(endpoint_name, name, lines)
    sys.stdout.write(text)
