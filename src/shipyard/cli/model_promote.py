"""shipyard model promote | approve | reject | promotions | protect | protections | unprotect.

Registered on ``shipyard model`` by :func:`register`. ``promote --wait`` is what a CI
workflow's promotion step runs: it exits 0 once the promotion is applied, 1 when it is
rejected or still pending at ``--timeout``.
"""

from __future__ import annotations

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
    fmt_time,
    new_table,
    now_ms,
    parse_duration,
    plural,
    print_json,
    print_tables,
)

if TYPE_CHECKING:
    from shipyard.api.promotions import Promotion
    from shipyard.client.client import Client
    from shipyard.client.promotions import PromotionOperations

__all__ = ["register"]

IdArgument = Annotated[
    int, typer.Argument(metavar="ID", min=1, help="The promotion's id (`model promotions`).")
]
CommentOption = Annotated[
    str, typer.Option("--comment", "-m", metavar="TEXT", help="Why (kept in the history).")
]
ModelOption = Annotated[
    str, typer.Option("--model", metavar="NAME", help="The model it applies to; * for every model.")
]
AliasOption = Annotated[
    str, typer.Option("--alias", metavar="ALIAS", help="The alias it applies to; * for every alias.")
]


def _ops(client: Client) -> PromotionOperations:
    from shipyard.client.promotions import PromotionOperations

    return client.operations(PromotionOperations)


def _name_version(value: str) -> tuple[str, str]:
    name, sep, version = value.rpartition(":")
    if not sep or not name or not version:
        raise typer.BadParameter(
            f"{value!r} is not NAME:VERSION, e.g. credit:3, credit:latest or credit:challenger",
            param_hint="NAME:VERSION",
        )
    return name, version


def _state(p: Promotion) -> str:
    if p.state == "pending":
        got = sum(1 for d in p.decisions if d.decision == "approved")
        return f"pending ({got}/{p.required_approvals} approvals)"
    return p.state


def _say(p: Promotion) -> str:
    copied = f" (copied from {p.source})" if p.source else ""
    where = f"{p.name} v{p.version} -> {p.alias} in workspace {p.workspace}{copied}"
    return f"promotion {p.id}: {where}: {_state(p)}"


def promote(
    target: Annotated[
        str, typer.Argument(metavar="NAME:VERSION", help="The version: a number, latest or an alias.")
    ],
    alias: Annotated[
        str, typer.Option("--alias", metavar="ALIAS", help="The alias to point at it, e.g. champion.")
    ],
    to_workspace: Annotated[
        str | None,
        typer.Option(
            "--to-workspace",
            metavar="NAME",
            help="Copy the version (files, tags, lineage) into the model of the same name in this"
            " workspace and move the alias there (needs models:write in it).",
        ),
    ] = None,
    to_url: Annotated[
        str | None,
        typer.Option(
            "--to-url",
            metavar="URL",
            help="Copy the version to another Shipyard server (through this machine) and request the"
            " alias there, in --to-workspace (default: that server's default workspace).",
        ),
    ] = None,
    to_token_env: Annotated[
        str,
        typer.Option(
            "--to-token-env",
            metavar="VAR",
            help="The environment variable holding the token for --to-url.",
        ),
    ] = "SHIPYARD_TO_TOKEN",  # noqa: S107 - the name of a variable, not a token
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait until it is applied (exit 0) or rejected (exit 1).")
    ] = False,
    timeout: Annotated[
        str, typer.Option("--timeout", metavar="DURATION", help="How long --wait waits, e.g. 30m, 2h.")
    ] = "30m",
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Move an alias to a version — at once when the alias is unprotected, else once a second
    person with models:approve approves (`shipyard model approve ID`)."""
    name, version = _name_version(target)
    seconds = parse_duration(timeout, "--timeout")
    number: int | str = int(version) if version.isdigit() else version
    with connect(url, workspace, token) as client:
        ops = _ops(client)
        if to_url is not None:
            made, ops = _request_on_server(ops, to_url, to_token_env, to_workspace, name, number, alias)
        else:
            made = ops.request(name, number, alias, to_workspace=to_workspace)
        typer.echo(_say(made), err=output is OutputFormat.JSON)
        if made.state == "pending" and not wait:
            typer.echo(
                f"approve with: shipyard model approve {made.id} --workspace {made.workspace}",
                err=output is OutputFormat.JSON,
            )
        done = _wait(ops, made, seconds) if wait else made
    if output is OutputFormat.JSON:
        print_json(done)
    if wait and done.state != "applied":
        fail(_say(done), "PROMOTION_REJECTED" if done.state == "rejected" else "REQUEST_TIMEOUT")


def _request_on_server(
    ops: PromotionOperations,
    to_url: str,
    token_env: str,
    workspace: str | None,
    name: str,
    version: int | str,
    alias: str,
) -> tuple[Promotion, PromotionOperations]:
    import os

    from shipyard.client.client import Client

    token = os.environ.get(token_env)
    if not token:
        fail(
            f"--to-url needs the other server's token in the environment variable {token_env}",
            hint=f"export {token_env}=<a token of {to_url}>, or name another variable with --to-token-env",
        )
    target = Client(to_url, workspace=workspace, token=token)
    return ops.request_on(target, name, version, alias), _ops(target)


def _wait(ops: PromotionOperations, made: Promotion, seconds: int) -> Promotion:
    from rich.console import Console

    from shipyard.errors import RequestTimeout

    if made.state != "pending":
        return made
    console = Console(stderr=True, highlight=False)
    with console.status(f"waiting for approval of promotion {made.id}…", spinner="dots") as status:

        def on_poll(current: Promotion, waited: float) -> None:
            status.update(f"promotion {current.id}: {_state(current)}, waited {int(waited)} s of {seconds} s")

        try:
            done = ops.wait(made, timeout=seconds, poll=1.0, on_poll=on_poll)
        except RequestTimeout:
            done = ops.get(made.name, made.id, workspace=made.workspace)
            if done.state == "pending":
                fail(
                    f"{_say(done)} after {seconds} s",
                    "REQUEST_TIMEOUT",
                    f"approve with: shipyard model approve {made.id} --workspace {made.workspace}",
                )
    console.print(_say(done), style="green" if done.state == "applied" else "red")
    return done


def _decide(
    decision: str, promotion_id: int, comment: str, url: str | None, workspace: str | None, token: str | None
) -> None:
    with connect(url, workspace, token) as client:
        ops = _ops(client)
        found = ops.find(promotion_id)
        done = (ops.approve if decision == "approve" else ops.reject)(found.name, promotion_id, comment)
    typer.echo(_say(done))


def approve(
    promotion_id: IdArgument,
    comment: CommentOption = "",
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Approve a pending promotion (needs models:approve in its workspace; never your own).
    The approval that completes it moves the alias."""
    _decide("approve", promotion_id, comment, url, workspace, token)


def reject(
    promotion_id: IdArgument,
    comment: CommentOption = "",
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Reject a pending promotion (needs models:approve in its workspace; never your own)."""
    _decide("reject", promotion_id, comment, url, workspace, token)


def promotions(
    name: Annotated[str | None, typer.Argument(metavar="[NAME]", help="Only this model's.")] = None,
    state: Annotated[
        str | None, typer.Option("--state", metavar="STATE", help="pending, applied or rejected.")
    ] = None,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """List promotions of a workspace (of one model), newest first."""
    with connect(url, workspace, token) as client:
        found = _ops(client).list(name, state=state)
    if output is OutputFormat.JSON:
        print_json(found)
        return
    now = now_ms()
    table = new_table(
        "id", "model", "version", "alias", "state", "requested by", "requested", "decided by", "source"
    )
    for p in found:
        table.add_row(
            cell(str(p.id), "bold"),
            cell(p.name),
            cell(f"v{p.version}"),
            cell(p.alias),
            cell(
                _state(p), "green" if p.state == "applied" else "red" if p.state == "rejected" else "yellow"
            ),
            cell(p.requested_by),
            cell(fmt_time(p.requested_at, now)),
            cell(", ".join(d.principal for d in p.decisions)),
            cell(p.source or ""),
        )
    print_tables(table, footer=plural(len(found), "promotion"))


def protect(
    model: ModelOption = "*",
    alias: AliasOption = "*",
    approvals: Annotated[
        int, typer.Option("--approvals", min=1, max=10, help="Approvals by others than the requester.")
    ] = 1,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Require approval to move an alias in a workspace: one model's alias (--model, --alias),
    an alias of every model (--alias) or every alias there (neither). Needs roles:write."""
    with connect(url, workspace, token) as client:
        made = _ops(client).protect(model, alias, approvals)
    typer.echo(
        f"protected in workspace {made.workspace}: model {made.model}, alias {made.alias}"
        f" ({plural(made.approvals, 'approval')})"
    )


def protections(
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """List the alias protections of a workspace."""
    with connect(url, workspace, token) as client:
        found = _ops(client).protections()
    if output is OutputFormat.JSON:
        print_json(found)
        return
    now = now_ms()
    table = new_table("model", "alias", "approvals", "by", "since")
    for p in found:
        table.add_row(cell(p.model, "bold"), cell(p.alias), cell(str(p.approvals)), cell(p.created_by),
                      cell(fmt_time(p.created_at, now)))  # fmt: skip
    print_tables(table, footer=plural(len(found), "protection"))


def unprotect(
    model: ModelOption = "*",
    alias: AliasOption = "*",
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Remove a protection (named by the same --model and --alias it was made with)."""
    with connect(url, workspace, token) as client:
        _ops(client).unprotect(model, alias)
    typer.echo(f"unprotected model {model}, alias {alias}")


def register(app: typer.Typer) -> None:
    """Add these commands to ``shipyard model``."""
    for command in (promote, approve, reject, promotions, protect, protections, unprotect):
        app.command(command.__name__)(command)
