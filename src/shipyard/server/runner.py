"""Run the server process: bind, announce the URL, serve until SIGINT/SIGTERM."""

from __future__ import annotations

import ipaddress
import logging
import os
import signal
import socket
import sys

import uvicorn

from shipyard.errors import InvalidArgument
from shipyard.server.access_runtime import ADMIN_TOKEN_FILE
from shipyard.server.app import create_app
from shipyard.settings import Settings

__all__ = ["is_loopback", "serve"]

log = logging.getLogger("shipyard.server")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _announce_access(settings: Settings, first_token: str | None, url: str) -> None:
    if not settings.auth:
        print("  auth: OFF (--no-auth): every caller on this machine acts as the owner", flush=True)
        return
    if first_token is not None:
        # Printed this once, like Jupyter's token; the file keeps it for the owner.
        token_file = settings.home / ADMIN_TOKEN_FILE
        print(f"  created the owner 'admin'; its token (also in {token_file}, mode 0600):", flush=True)
        print(f"    {first_token}", flush=True)
        print(f"  sign in: shipyard login --url {url} --token-file {token_file}", flush=True)
        print(f"  the studio: {url}/login?token={first_token}&next=/", flush=True)
    else:
        print(f"  auth: on (sign in with `shipyard login`; the studio: {url}/login)", flush=True)


def _bound_url(host: str, port: int) -> str:
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - a wildcard bind, reached locally
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _stopped(_signum: int, _frame: object) -> None:
    """Receives the signal uvicorn re-raises once it has shut down: nothing left to do."""


def serve(settings: Settings, *, scoring_only: bool = False, poll_s: float = 2.0) -> None:
    """Blocks until the server stops. uvicorn handles SIGINT/SIGTERM: in-flight requests
    finish, then the lifespan closes the stores. ``scoring_only``: a scoring replica
    (``shipyard serve``) that syncs its deployments from the database every ``poll_s``."""
    logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    if not settings.auth and not is_loopback(settings.host):
        raise InvalidArgument(
            f"--no-auth is for one developer's laptop: it is refused on {settings.host}, which is not a"
            " loopback address (anyone reaching the port could run code as this user); bind"
            " 127.0.0.1, or keep auth on"
        )
    # Everything the server and its jobs and workers write under the home (database, keys,
    # tokens, logs, models) is for this user alone: files 0600, folders 0700.
    os.umask(0o077)
    sock = _bind(settings.host, settings.port)
    port = sock.getsockname()[1]
    if scoring_only:
        from shipyard.server.serve_app import create_scoring_app

        app = create_scoring_app(settings, replica_name=f"port-{port}", poll_s=poll_s)
    else:
        app = create_app(settings)
        app.state.public_url = settings.default_public_url(port)  # the port is known only now
        # Before announcing the address: a second job runner on this home is refused here,
        # with the reason, rather than by a failed start-up after the first line.
        try:
            app.state.jobs_runtime.hold_home()
        except Exception:
            sock.close()
            raise
    # Tests and scripts read this line to learn the port when they asked for port 0. A
    # wildcard bind is announced with a loopback address: what this machine reaches it at
    # (a browser sending Host 0.0.0.0 is refused, as the "0.0.0.0 day" attacks did).
    url = _bound_url(settings.host, port)
    role = " scoring replica" if scoring_only else ""
    wildcard = " (all interfaces)" if settings.host in ("0.0.0.0", "::", "") else ""  # noqa: S104
    print(f"Shipyard {app.version}{role} listening on {url}{wildcard}", flush=True)
    print(
        f"  metadata: {app.state.database.kind}  artifacts: {settings.resolved_artifacts()}",
        flush=True,
    )
    if not scoring_only:
        print(f"  roles: {settings.roles.replace(',', ', ')}", flush=True)
    _announce_access(settings, app.state.first_token if not scoring_only else None, url)
    config = uvicorn.Config(
        app,
        log_level=settings.log_level.lower(),
        access_log=False,
        timeout_graceful_shutdown=10,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to the
    # handler that was installed before it started: with Python's defaults the process
    # would end "killed by signal" (exit 143, or 130 with a KeyboardInterrupt) after a clean
    # stop. A stop asked for by signal is the normal end of a server: exit 0.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _stopped)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    sys.stdout.flush()
