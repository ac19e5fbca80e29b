"""Entry point of the ``shipyard`` command, built for a short start.

A command that talks to a server must send its first request within 0.25 s of being typed
(``benchmarks/cli_startup.py`` measures it beside the MLflow CLI), so :func:`main` builds only
the command group that was asked for, converts option values without pydantic
(:mod:`shipyard.cli._coerce`), and keeps httpx's own command-line tool (rich, click, pygments)
from being imported with it. ``--help``, an unknown command and shell completion get the
whole tree. Commands import what they need when they run (httpx ~0.04 s, rich's table and
console ~0.1 s).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from shipyard._version import __version__

__all__ = ["build_app", "main"]  # and ``app``, built on first use (__getattr__ below)

# Commands that belong to no resource, with where they go in ``shipyard --help`` among the
# resources' commands (``Resource.commands``, placed by ``cli_position``).
_CORE: dict[str, tuple[int, str]] = {
    "init": (90, "shipyard.cli.init:init"),
    "monitor": (37, "shipyard.cli.monitor:app"),
    "ci": (38, "shipyard.cli.ci:app"),
    "backup": (130, "shipyard.cli.backup:backup_app"),
    "migrate": (130, "shipyard.cli.backup:migrate"),
    "gc": (130, "shipyard.cli.backup:gc"),
}


def _groups() -> dict[str, str]:
    """Every top-level group and command → where it lives (``module:attribute``), in help order.

    Read from the resources' descriptors, which import nothing: a group's module is imported
    only when it is part of the tree.
    """
    from shipyard.resources import resources

    placed = [(position, path, name) for name, (position, path) in _CORE.items()]
    for resource in resources():
        position = resource.position if resource.cli_position is None else resource.cli_position
        placed += [(position, path, name) for name, path in resource.commands.items()]
    # Stable sort on the position alone: a resource's commands keep their written order.
    return {name: path for _, path, name in sorted(placed, key=lambda item: item[0])}


_HELP = "Shipyard: experiment tracking, model registry, jobs and endpoints you host yourself."


def _version(value: bool) -> None:
    if value:
        typer.echo(f"shipyard {__version__}")
        raise typer.Exit


def _root(
    _version_flag: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Shipyard: experiment tracking, model registry, jobs and endpoints you host yourself."""


HostOption = Annotated[
    str | None, typer.Option(help="Address to bind [env SHIPYARD_HOST; default 127.0.0.1].")
]
PortOption = Annotated[
    int | None, typer.Option(help="Port to bind, 0 for any free one [env SHIPYARD_PORT; default 5151].")
]
HomeOption = Annotated[
    Path | None,
    typer.Option(help="Data folder: database and artifacts [env SHIPYARD_HOME; default ~/.shipyard]."),
]
DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        help="Metadata store URL, e.g. postgresql+psycopg://user@host/db [default: SQLite in --home]."
    ),
]
ArtifactsOption = Annotated[
    str | None, typer.Option(help="Artifact store: a folder or an fsspec URL such as s3://bucket/prefix.")
]
LogLevelOption = Annotated[str | None, typer.Option(help="debug, info, warning or error.")]
NoAuthOption = Annotated[
    bool,
    typer.Option(
        "--no-auth",
        help="Turn sign-in off: every caller acts as the owner. Only for one developer's laptop:"
        " refused unless the server binds a loopback address [env SHIPYARD_AUTH=false].",
    ),
]
AllowedHostsOption = Annotated[
    str | None,
    typer.Option(
        "--allowed-hosts",
        metavar="HOSTS",
        help="Comma-separated Host names or addresses this server answers to besides localhost,"
        " loopback and the bound address; '*' wildcards, e.g. \"ml.example.com,10.0.*\""
        " [env SHIPYARD_ALLOWED_HOSTS].",
    ),
]
CorsOption = Annotated[
    str | None,
    typer.Option(
        "--cors-allowed-origins",
        metavar="URLS",
        help="Comma-separated web origins (https://app.example.com) whose pages may call the API;"
        " default: none [env SHIPYARD_CORS_ALLOWED_ORIGINS].",
    ),
]


def up(
    host: HostOption = None,
    port: PortOption = None,
    home: HomeOption = None,
    database_url: DatabaseUrlOption = None,
    artifacts: ArtifactsOption = None,
    log_level: LogLevelOption = None,
    no_auth: NoAuthOption = False,
    allowed_hosts: AllowedHostsOption = None,
    cors_allowed_origins: CorsOption = None,
    roles: Annotated[
        str | None,
        typer.Option(
            "--roles",
            metavar="ROLES",
            help="What this server does, comma-separated: api (the APIs and web pages), jobs (runs"
            " queued jobs), serving (deployments' workers and scoring) [env SHIPYARD_ROLES;"
            " default api,jobs,serving]. Several servers on one PostgreSQL database share the work.",
        ),
    ] = None,
) -> None:
    """Start the Shipyard server: the API, the MLflow-compatible API, the job runner and
    the online endpoints (``/endpoints/<name>/score``).

    Sign-in is on: the first start makes the owner 'admin' and prints its token once (also
    in <home>/admin.token; SHIPYARD_ADMIN_TOKEN chooses it). Migrations are applied on
    start. Stop it with Ctrl-C or SIGTERM: requests in flight finish first. Any number of
    servers can share one PostgreSQL database and artifact store (each with a home of its
    own): jobs are leased, and a stopped server's jobs are adopted by another.
    """
    _run(
        host, port, home, database_url, artifacts, log_level,
        extra={
            "auth": False if no_auth else None,
            "allowed_hosts": allowed_hosts,
            "cors_allowed_origins": cors_allowed_origins,
            "roles": roles,
        },
    )  # fmt: skip


def serve(
    host: HostOption = None,
    port: PortOption = None,
    home: HomeOption = None,
    database_url: DatabaseUrlOption = None,
    artifacts: ArtifactsOption = None,
    log_level: LogLevelOption = None,
    poll_seconds: Annotated[
        float, typer.Option(min=0.1, help="How often to sync deployments and traffic from the database.")
    ] = 2.0,
    no_auth: NoAuthOption = False,
    allowed_hosts: AllowedHostsOption = None,
) -> None:
    """Start a scoring replica: only /endpoints/<name>/score, /metrics and /healthz, with
    workers of its own kept in step with the database (the endpoints and deployments that
    `shipyard up` manages). Run several against one PostgreSQL database to scale scoring out.
    """
    _run(
        host, port, home, database_url, artifacts, log_level,
        scoring_only=True, poll_s=poll_seconds,
        extra={"auth": False if no_auth else None, "allowed_hosts": allowed_hosts},
    )  # fmt: skip


def _run(
    host: str | None,
    port: int | None,
    home: Path | None,
    database_url: str | None,
    artifacts: str | None,
    log_level: str | None,
    *,
    scoring_only: bool = False,
    poll_s: float = 2.0,
    extra: dict[str, Any] | None = None,
) -> None:
    from pydantic import ValidationError

    from shipyard.errors import ShipyardError
    from shipyard.server.runner import serve as run_server
    from shipyard.settings import Settings

    # Only what was given on the command line: Settings fills the rest from SHIPYARD_* and defaults.
    given = {
        "host": host,
        "port": port,
        "home": home,
        "database_url": database_url,
        "artifacts": artifacts,
        "log_level": log_level,
        **(extra or {}),
    }
    overrides: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    try:
        run_server(Settings(**overrides), scoring_only=scoring_only, poll_s=poll_s)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        typer.secho(f"error: invalid setting: {problems}", fg="red", err=True)
        raise typer.Exit(1) from None
    except ShipyardError as exc:  # a store that cannot be opened: say which and why
        typer.secho(f"error: {exc.message} ({exc.code})", fg="red", err=True)
        raise typer.Exit(1) from None
    except OSError as exc:  # typically the port is taken or the home folder is not writable
        typer.secho(f"error: cannot start the server: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None


def build_app(names: Sequence[str] | None = None, *, completion: bool = True) -> typer.Typer:
    """The command tree: every group and command, or only ``names`` (with ``up`` and
    ``serve``, which live here). ``completion`` adds ``--install-completion`` and
    ``--show-completion``: options of the whole tree, left out of a one-group build."""
    root = typer.Typer(
        name="shipyard",
        help=_HELP,
        no_args_is_help=True,
        add_completion=completion,
        # Plain click help, on purpose: Typer's rich help imports rich.markdown, markdown-it and
        # pygments (~0.45 s, more than everything else together), and rich markup would also eat
        # the "[env …; default …]" notes in the option help below as if they were style tags.
        rich_markup_mode=None,
    )
    root.callback()(_root)
    root.command()(up)
    root.command()(serve)
    from shipyard.resources import load

    for name, path in _groups().items():
        if names is not None and name not in names:
            continue
        part = load(path)
        if isinstance(part, typer.Typer):
            root.add_typer(part, name=name)
        else:
            root.command(name)(part)
    return root


def __getattr__(name: str) -> Any:
    # ``app``, the whole tree, for the tests that walk it and for Typer's tooling; built on
    # first use so that running one command never imports every group's module.
    if name == "app":
        return build_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _wanted(args: Sequence[str]) -> list[str] | None:
    """The one group a command line needs, or None for the whole tree: help, an unknown
    name (click suggests the closest), root options and shell completion."""
    completing = any(key.startswith("_") and key.endswith("_COMPLETE") for key in os.environ)
    if completing or not args or args[0] not in _groups():
        return None
    return [args[0]]


def main() -> None:
    from typer.main import get_command

    from shipyard.cli._coerce import convert_without_pydantic

    # httpx imports its own command-line tool (rich, click, pygments: ~50 ms) when they are
    # installed; no shipyard command uses it, and a module set to None is never imported.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    wanted = _wanted(sys.argv[1:])
    command = get_command(build_app(wanted, completion=wanted is None))
    convert_without_pydantic(command)
    run: Callable[[], Any] = command
    try:
        run()
    except Exception as exc:
        from shipyard.cli._output import describe_uncaught, print_error

        described = describe_uncaught(exc)
        if described is None:
            raise
        print_error(*described)
        sys.exit(1)
