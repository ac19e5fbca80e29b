"""Entry point of the ``shipyard`` command. Keep module-level imports light: ``--help``
must answer in well under a second, so commands import what they need when they run
(httpx alone costs ~0.3 s, rich's table and console ~0.1 s)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from shipyard._version import __version__
from shipyard.cli import (
    access,
    batch_endpoints,
    computes,
    data,
    endpoints,
    environments,
    experiments,
    init,
    jobs,
    models,
    runs,
)

__all__ = ["app", "main"]

app = typer.Typer(
    name="shipyard",
    help="Shipyard: experiment tracking, model registry, jobs and endpoints you host yourself.",
    no_args_is_help=True,
    add_completion=False,
    # Plain click help, on purpose: Typer's rich help imports rich.markdown, markdown-it and
    # pygments (~0.45 s, more than everything else together), and rich markup would also eat
    # the "[env …; default …]" notes in the option help below as if they were style tags.
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"shipyard {__version__}")
        raise typer.Exit


@app.callback()
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


@app.command()
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
) -> None:
    """Start the Shipyard server: the API, the MLflow-compatible API, the job runner and
    the online endpoints (``/endpoints/<name>/score``).

    Sign-in is on: the first start makes the owner 'admin' and prints its token once (also
    in <home>/admin.token; SHIPYARD_ADMIN_TOKEN chooses it). Migrations are applied on
    start. Stop it with Ctrl-C or SIGTERM: requests in flight finish first.
    """
    _run(
        host, port, home, database_url, artifacts, log_level,
        extra={
            "auth": False if no_auth else None,
            "allowed_hosts": allowed_hosts,
            "cors_allowed_origins": cors_allowed_origins,
        },
    )  # fmt: skip


@app.command()
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


# The groups are registered at import time so that ``app`` is the whole command tree (the
# tests walk it); their modules import only typer and the error tree, so this stays cheap.
app.add_typer(experiments.app, name="experiment")
app.add_typer(runs.app, name="run")
app.add_typer(models.app, name="model")
app.add_typer(jobs.app, name="job")
app.add_typer(environments.app, name="environment")
app.add_typer(computes.app, name="compute")
app.add_typer(data.app, name="data")
app.add_typer(endpoints.endpoint_app, name="online-endpoint")
app.add_typer(endpoints.deployment_app, name="online-deployment")
app.add_typer(batch_endpoints.endpoint_app, name="batch-endpoint")
app.add_typer(batch_endpoints.deployment_app, name="batch-deployment")
app.command("init")(init.init)
app.command("login")(access.login)
app.command("logout")(access.logout)
app.command("whoami")(access.whoami)
app.add_typer(access.user_app, name="user")
app.add_typer(access.token_app, name="token")
app.add_typer(access.role_app, name="role")
app.add_typer(access.secret_app, name="secret")
app.add_typer(access.audit_app, name="audit")


def main() -> None:
    app()
