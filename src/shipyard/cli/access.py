"""shipyard login / logout / whoami, and shipyard user …, token …, role …, secret …, audit …

Users, tokens, roles and the audit log are server-wide, so those commands take no
``--workspace``; ``whoami`` and ``secret`` do (what you may do there, the secrets kept there),
and ``role assign|revoke --workspace`` names where a role applies (no environment variable
for that one: a role given everywhere should never come from a forgotten SHIPYARD_WORKSPACE).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
    fail_on,
    fmt_timestamp,
    new_table,
    now_ms,
    parse_duration,
    plural,
    print_json,
    print_tables,
    to_jsonable,
)

if TYPE_CHECKING:
    from shipyard.client.access import WhoAmI
    from shipyard.domain.access import Role
    from shipyard.domain.identity import AuditEntry, RoleAssignment

__all__ = ["audit_app", "login", "logout", "role_app", "secret_app", "token_app", "user_app", "whoami"]

user_app = typer.Typer(help="Users of the server: create, list, disable, enable.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens: create (shown once), list, revoke.", no_args_is_help=True)
role_app = typer.Typer(
    help="Roles: list the built-in ones, create custom ones, assign them to users.", no_args_is_help=True
)
secret_app = typer.Typer(
    help="Secrets of a workspace, for job and deployment files (${{secrets.NAME}}); values are never shown.",
    no_args_is_help=True,
)
audit_app = typer.Typer(
    help="The audit log: who changed what, and a check of its hash chain.", no_args_is_help=True
)

UserArgument = Annotated[str, typer.Argument(metavar="NAME", help="The user's name.")]
UserFilter = Annotated[
    str | None, typer.Option("--user", metavar="NAME", help="Whose tokens [default: yours].")
]
RoleOption = Annotated[str, typer.Option("--role", metavar="ROLE", help="The role's name, e.g. reader.")]
ScopeOption = Annotated[
    str | None,
    typer.Option(
        "--workspace",
        metavar="NAME",
        show_default=False,
        help="The workspace the role applies in [default: every workspace, '*'].",
    ),
]


def _where(workspace: str) -> str:
    return "every workspace" if workspace == "*" else f"workspace {workspace!r}"


def _read_text(path: Path, what: str) -> str:
    """The file's text, ``-`` for stdin; a file that cannot be read is a clean error."""
    if str(path) == "-":
        return sys.stdin.read()
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read the {what} from {path}: {exc}")


def _grouped(permissions: Iterable[str]) -> list[str]:
    """``jobs: read, create`` lines, one per resource, in the catalogue's order."""
    from shipyard.domain.access import PERMISSIONS

    held = set(permissions)
    lines = ["*"] if "*" in held else []
    for resource, actions in PERMISSIONS.items():
        if f"{resource}:*" in held:
            lines.append(f"{resource}: *")
            continue
        mine = [a for a in actions if f"{resource}:{a}" in held]
        if mine:
            lines.append(f"{resource}: {', '.join(mine)}")
    return lines


# -- signing in --------------------------------------------------------------------------


def login(
    url: UrlOption = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            metavar="TOKEN",
            show_default=False,
            help="The token to store (seen by `ps` and kept in shell history: prefer --token-file"
            " or the prompt).",
        ),
    ] = None,
    token_file: Annotated[
        Path | None,
        typer.Option(
            "--token-file",
            metavar="FILE",
            help="Read the token from FILE, '-' for stdin (e.g. the admin.token in the server's home).",
        ),
    ] = None,
) -> None:
    """Sign in: check a token with the server, then store it for that URL in a file only you
    can read, where later commands and the SDK find it. Asks for the token (hidden) when
    neither --token nor --token-file is given."""
    from shipyard.client.credentials import remember
    from shipyard.errors import Unauthenticated

    if token is not None and token_file is not None:
        raise typer.BadParameter("give --token or --token-file, not both", param_hint="--token")
    if token_file is not None:
        secret = _read_text(token_file, "token").strip()
    elif token is not None:
        secret = token.strip()
    else:
        secret = typer.prompt("Token", hide_input=True).strip()
    if not secret:
        raise typer.BadParameter("the token is empty", param_hint="--token")
    with connect(url, None, secret) as client:
        try:
            me = client.whoami()
        except Unauthenticated as exc:
            fail(f"the server at {client.url} refused this token: {exc.message}", exc.code)
        path = remember(client.url, secret, me.user)
    signed = f" (token {me.token_name!r})" if me.token_name else ""
    typer.echo(f"signed in to {client.url} as {me.user}{signed}")
    typer.echo(f"token stored in {path} (mode 0600); `shipyard logout` forgets it")
    if not me.auth:
        typer.secho("note: this server does not check sign-in (--no-auth)", err=True, fg="yellow")
    if os.environ.get("SHIPYARD_TOKEN"):
        typer.secho("note: SHIPYARD_TOKEN is set and wins over the stored token", err=True, fg="yellow")


def logout(url: UrlOption = None) -> None:
    """Forget the token stored for the server. The token itself stays valid: `shipyard token
    revoke` ends it."""
    from shipyard.client._http import resolve_url
    from shipyard.client.credentials import credentials_path, forget

    target = resolve_url(url)
    if forget(target):
        typer.echo(f"signed out of {target}: its token is removed from {credentials_path()}")
    else:
        typer.echo(f"no token stored for {target} in {credentials_path()}")


def whoami(
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Who you are to the server: user, token, roles in each workspace, and what you may do
    in the current workspace."""
    with connect(url, workspace, token) as client:
        me = client.whoami()
    if output is OutputFormat.JSON:
        print_json(me)
        return
    _print_whoami(me, client.url)


def _print_whoami(me: WhoAmI, url: str) -> None:
    how = {"job": "a job's token", "local": "no sign-in (a --no-auth server)"}.get(me.kind, "token")
    if me.token_name and me.kind != "local":
        how = f"{how} {me.token_name!r}"
    roles = "; ".join(f"{a.role} in {_where(a.workspace)}" for a in me.assignments)
    rows = [
        ("user", me.user + (f" <{me.email}>" if me.email else "")),
        ("signed in with", how),
        ("server", url),
        ("roles", roles or "none"),
    ]
    if me.only_workspace:
        rows.append(("limited to", f"workspace {me.only_workspace!r}"))
    info = new_table("field", "value", show_header=False)
    for field, value in rows:
        info.add_row(cell(field, "bold"), cell(value))
    allowed = new_table(f"may, in workspace {me.workspace!r}")
    for line in _grouped(me.permissions) or ["nothing"]:
        allowed.add_row(cell(line))
    print_tables(info, allowed)


# -- users -------------------------------------------------------------------------------


@user_app.command("create")
def user_create(
    name: UserArgument,
    email: Annotated[
        str | None, typer.Option("--email", metavar="E", help="An e-mail address, for people.")
    ] = None,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Create a user. It has no role and no token yet: give it both."""
    with connect(url, None, token) as client:
        user = client.users.create(name, email=email)
    typer.echo(f"created user {user.name}")
    typer.secho(
        f"next: shipyard role assign {user.name} --role reader [--workspace NAME]; "
        f"shipyard token create --user {user.name} --name NAME",
        dim=True,
    )


@user_app.command("list")
def user_list(
    output: OutputOption = OutputFormat.TABLE, url: UrlOption = None, token: TokenOption = None
) -> None:
    """List users, disabled ones included."""
    with connect(url, None, token) as client:
        users = client.users.list()
    if output is OutputFormat.JSON:
        print_json(users)
        return
    table = new_table("name", "email", "status", "created", "created by")
    for u in users:
        status = cell("disabled", "red") if u.disabled else cell("enabled")
        table.add_row(
            cell(u.name, "bold"), cell(u.email), status, cell(fmt_timestamp(u.created_at)), cell(u.created_by)
        )
    print_tables(table, footer=plural(len(users), "user"))


@user_app.command("disable")
def user_disable(name: UserArgument, url: UrlOption = None, token: TokenOption = None) -> None:
    """Disable a user: its tokens stop working at once; its records and roles stay."""
    with connect(url, None, token) as client:
        client.users.disable(name)
    typer.echo(f"disabled user {name}: its tokens are refused from now on")


@user_app.command("enable")
def user_enable(name: UserArgument, url: UrlOption = None, token: TokenOption = None) -> None:
    """Enable a disabled user again (its unexpired, unrevoked tokens work again)."""
    with connect(url, None, token) as client:
        client.users.enable(name)
    typer.echo(f"enabled user {name}")


# -- tokens ------------------------------------------------------------------------------


@token_app.command("create")
def token_create(
    name: Annotated[
        str, typer.Option("--name", metavar="LABEL", help="A label to know it and revoke it by, e.g. laptop.")
    ],
    user: Annotated[
        str | None,
        typer.Option(
            "--user", metavar="NAME", help="Whose token [default: yours; another's needs users:write]."
        ),
    ] = None,
    expires: Annotated[
        str | None,
        typer.Option("--expires", metavar="DURATION", help="Lifetime, e.g. 30d, 12h, 90m [default: never]."),
    ] = None,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Create a token. It is printed once, on stdout alone (the rest goes to stderr), and the
    server keeps only its hash: copy it now."""
    ttl = None if expires is None else parse_duration(expires, "--expires")
    with connect(url, None, token) as client:
        made = client.tokens.create(name, user=user, expires_in_s=ttl)
    t = made.token
    if output is OutputFormat.JSON:
        print_json({"token": made.secret, "name": t.name, "user": t.user, "expires": t.expires_at})
        return
    until = f"expires {fmt_timestamp(t.expires_at)}" if t.expires_at else "never expires"
    typer.secho(f"token {t.name!r} of {t.user}, {until}:", err=True)
    typer.echo(made.secret)
    typer.secho("Copy it now: it is shown only this once.", err=True, fg="yellow")


@token_app.command("list")
def token_list(
    user: UserFilter = None,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """List tokens (never the tokens themselves): yours, or a user's."""
    with connect(url, None, token) as client:
        tokens = client.tokens.list(user=user)
    if output is OutputFormat.JSON:
        print_json(tokens)
        return
    now = now_ms()
    table = new_table("name", "user", "kind", "expires", "created", "created by")
    for t in tokens:
        expired = t.expires_at is not None and t.expires_at <= now
        expires = (
            "never"
            if t.expires_at is None
            else fmt_timestamp(t.expires_at) + (" (expired)" if expired else "")
        )
        table.add_row(
            cell(t.name, "bold"), cell(t.user), cell(t.kind), cell(expires, "red" if expired else ""),
            cell(fmt_timestamp(t.created_at)), cell(t.created_by),
        )  # fmt: skip
    print_tables(table, footer=plural(len(tokens), "token"))


@token_app.command("revoke")
def token_revoke(
    name: Annotated[str, typer.Option("--name", metavar="LABEL", help="The token's label.")],
    user: UserFilter = None,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Revoke a token: it is refused from now on."""
    with connect(url, None, token) as client:
        client.tokens.revoke(name, user=user)
    typer.echo(f"revoked token {name!r}" + (f" of {user}" if user else ""))


# -- roles -------------------------------------------------------------------------------


def _role_json(role: Role, assignments: list[RoleAssignment] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": role.name,
        "description": role.description,
        "permissions": sorted(role.permissions),
        "builtin": role.builtin,
    }
    if assignments is not None:
        out["assignments"] = assignments
    return out


@role_app.command("list")
def role_list(
    output: OutputOption = OutputFormat.TABLE, url: UrlOption = None, token: TokenOption = None
) -> None:
    """List roles, built-in and custom."""
    with connect(url, None, token) as client:
        roles = client.roles.list()
    if output is OutputFormat.JSON:
        print_json([_role_json(r) for r in roles])
        return
    table = new_table("name", "kind", "permissions", "description")
    for r in roles:
        table.add_row(
            cell(r.name, "bold"), cell("built-in" if r.builtin else "custom"),
            cell("all" if "*" in r.permissions else str(len(r.expanded()))), cell(r.description),
        )  # fmt: skip
    print_tables(table, footer="`shipyard role show NAME` lists a role's permissions")


@role_app.command("show")
def role_show(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The role's name.")],
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Show a role: its permissions and who holds it where."""
    with connect(url, None, token) as client:
        role = client.roles.get(name)
        holders = [a for a in client.roles.assignments() if a.role == role.name]
    if output is OutputFormat.JSON:
        print_json(_role_json(role, holders))
        return
    kind = "built-in" if role.builtin else "custom"
    info = new_table("field", "value", title=f"Role {role.name} ({kind})", show_header=False)
    info.add_row(cell("description", "bold"), cell(role.description))
    for i, line in enumerate(_grouped(role.permissions)):
        info.add_row(cell("permissions" if i == 0 else "", "bold"), cell(line))
    held = new_table("user", "workspace", "since", "given by", title=f"Held by ({len(holders)})")
    for a in holders:
        held.add_row(
            cell(a.user, "bold"), cell(a.workspace), cell(fmt_timestamp(a.created_at)), cell(a.created_by)
        )
    print_tables(info, held)


@role_app.command("create")
def role_create(
    file: Annotated[
        Path,
        typer.Option("--file", "-f", help="A role file: name, description, permissions: [jobs:create, …]."),
    ],
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Create a custom role from a YAML file; each permission is resource:action,
    resource:* or *."""
    from shipyard.errors import ShipyardError
    from shipyard.specs._yaml import load_spec
    from shipyard.specs.role import RoleSpec

    try:
        spec = load_spec(file, RoleSpec)
    except ShipyardError as exc:
        fail_on(exc)
    with connect(url, None, token) as client:
        role = client.roles.create(spec.name, spec.permissions, description=spec.description)
    typer.echo(f"created role {role.name}: {plural(len(role.expanded()), 'permission')}")
    typer.secho(f"next: shipyard role assign USER --role {role.name} [--workspace NAME]", dim=True)


@role_app.command("assign")
def role_assign(
    name: UserArgument,
    role: RoleOption,
    workspace: ScopeOption = None,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Give a user a role, in one workspace or in every workspace."""
    where = workspace or "*"
    with connect(url, None, token) as client:
        client.roles.assign(name, role, workspace=where)
    typer.echo(f"{name} now has the role {role} in {_where(where)}")


@role_app.command("revoke")
def role_revoke(
    name: UserArgument,
    role: RoleOption,
    workspace: ScopeOption = None,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Take a role from a user, in one workspace or the one given in every workspace."""
    where = workspace or "*"
    with connect(url, None, token) as client:
        client.roles.revoke(name, role, workspace=where)
    typer.echo(f"{name} no longer has the role {role} in {_where(where)}")


# -- secrets -----------------------------------------------------------------------------

SecretArgument = Annotated[str, typer.Argument(metavar="NAME", help="The secret's name, e.g. DB_PASSWORD.")]


@secret_app.command("set")
def secret_set(
    name: SecretArgument,
    value: Annotated[
        str | None,
        typer.Option(
            "--value",
            metavar="V",
            help="The value (seen by `ps` and kept in shell history: prefer --value-file).",
        ),
    ] = None,
    value_file: Annotated[
        Path | None,
        typer.Option(
            "--value-file",
            metavar="FILE",
            help="Read the value from FILE, '-' for stdin; one final newline is dropped.",
        ),
    ] = None,
    workspace: WorkspaceOption = None,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Create or replace a secret of the workspace. The value is sent once and never printed."""
    if (value is None) == (value_file is None):
        raise typer.BadParameter("give --value or --value-file (one of them)", param_hint="--value")
    if value_file is not None:
        text = _read_text(value_file, "value")
        value = text[:-2] if text.endswith("\r\n") else text.removesuffix("\n")
    assert value is not None  # one of the two, checked above
    with connect(url, workspace, token) as client:
        info = client.secrets.set(name, value)
    how = "created" if info.created_at == info.updated_at else "replaced"
    typer.echo(f"secret {info.name} {how} in workspace {info.workspace!r}")


@secret_app.command("list")
def secret_list(
    output: OutputOption = OutputFormat.TABLE,
    workspace: WorkspaceOption = None,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """List the workspace's secrets: names and who set them, never values."""
    with connect(url, workspace, token) as client:
        secrets = client.secrets.list()
    if output is OutputFormat.JSON:
        print_json(secrets)
        return
    table = new_table("name", "workspace", "updated", "updated by", "created", "created by")
    for s in secrets:
        table.add_row(
            cell(s.name, "bold"), cell(s.workspace), cell(fmt_timestamp(s.updated_at)), cell(s.updated_by),
            cell(fmt_timestamp(s.created_at)), cell(s.created_by),
        )  # fmt: skip
    print_tables(table, footer=plural(len(secrets), "secret"))


@secret_app.command("delete")
def secret_delete(
    name: SecretArgument, workspace: WorkspaceOption = None, url: UrlOption = None, token: TokenOption = None
) -> None:
    """Delete a secret of the workspace (files that refer to it then fail to start)."""
    with connect(url, workspace, token) as client:
        client.secrets.delete(name)
    typer.echo(f"deleted secret {name}")


# -- audit -------------------------------------------------------------------------------


def _entry_json(entry: AuditEntry | None) -> dict[str, Any] | None:
    # The API does not send an entry's prev_hash (the one before it has it as its hash):
    # the record's empty default would read as a broken link.
    if entry is None:
        return None
    out: dict[str, Any] = to_jsonable(entry)
    out.pop("prev_hash", None)
    return out


def _audit_table(entries: list[AuditEntry]) -> Any:
    table = new_table("seq", "time", "actor", "action", "target", "workspace", "status", "outcome")
    for e in entries:
        style = "" if e.outcome == "ok" else "red"
        table.add_row(
            cell(str(e.seq)), cell(fmt_timestamp(e.ts)), cell(e.actor, "bold"), cell(e.action),
            cell(e.target), cell(e.workspace), cell(str(e.status)), cell(e.outcome, style),
        )  # fmt: skip
    return table


@audit_app.command("list")
def audit_list(
    actor: Annotated[
        str | None, typer.Option("--actor", metavar="NAME", help="Only this user's entries.")
    ] = None,
    action: Annotated[
        str | None,
        typer.Option("--action", metavar="A", help="One action (jobs:create) or a resource (jobs)."),
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", metavar="DURATION", help="Only the last 1d, 12h, 90m…")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="At most this many entries, newest first.")
    ] = 100,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """List audit entries, newest first: every change, and every refused request."""
    start = None if since is None else now_ms() - parse_duration(since, "--since") * 1000
    with connect(url, None, token) as client:
        entries = client.audit.list(actor=actor, action=action, since=start, limit=limit)
    if output is OutputFormat.JSON:
        print_json([_entry_json(e) for e in entries])
        return
    more = f"; --limit {limit * 10} for older ones" if len(entries) == limit else ""
    print_tables(_audit_table(entries), footer=plural(len(entries), "entry", "entries") + more)


@audit_app.command("verify")
def audit_verify(
    output: OutputOption = OutputFormat.TABLE, url: UrlOption = None, token: TokenOption = None
) -> None:
    """Walk the hash chain of the whole log: exit 0 when it is intact, else show the first
    bad entry and exit 1."""
    with connect(url, None, token) as client:
        result = client.audit.verify()
        bad = None if result.ok or result.first_bad_seq is None else client.audit.get(result.first_bad_seq)
    if output is OutputFormat.JSON:
        print_json({**to_jsonable(result), "first_bad_entry": _entry_json(bad)})
    elif result.ok:
        typer.echo(f"audit log intact: {result.entries} entries, head #{result.head_seq} {result.head_hash}")
        typer.secho(
            f"keep the head hash elsewhere: if entry #{result.head_seq} ever shows another one,"
            " the log was rewritten",
            dim=True,
        )
    else:
        typer.secho(
            f"error: the audit log is broken at entry #{result.first_bad_seq}: {result.problem}",
            err=True,
            fg="red",
        )
        if bad is not None:
            print_tables(_audit_table([bad]))
    if not result.ok:
        raise typer.Exit(1)
