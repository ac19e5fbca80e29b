"""Wire identity, secrets and the audit log, and put the guard in front of an app.

Shared by ``shipyard up`` (``create_app``) and ``shipyard serve`` (``create_scoring_app``):
both answer only principals the same users and roles allow, and log to the same audit chain.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from shipyard.domain.context import LOCAL_USER
from shipyard.server.guard import Guard, HostPolicy
from shipyard.services.access.audit import AuditLog
from shipyard.services.access.authenticator import Authenticator
from shipyard.services.access.identity import IdentityService
from shipyard.services.access.process_credentials import ProcessCredentials
from shipyard.services.access.secrets import SecretService
from shipyard.services.ports import Database
from shipyard.settings import Settings
from shipyard.stores.secret_cipher import FernetCipher, load_key

__all__ = ["ADMIN_TOKEN_FILE", "Access", "build_access", "install_guard", "secure_home"]

log = logging.getLogger("shipyard.server")

ADMIN_TOKEN_FILE = "admin.token"  # noqa: S105 - a file name


@dataclass(frozen=True, slots=True)
class Access:
    authenticator: Authenticator | None  # None: --no-auth
    identity: IdentityService
    secrets: SecretService
    audit: AuditLog
    credentials: ProcessCredentials  # for the processes of jobs and deployments
    first_token: str | None  # the owner's token when this start made it (printed once)


def secure_home(home: Path) -> None:
    """The home holds the database, keys and tokens: its owner alone may enter it."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(home, 0o700)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def build_access(settings: Settings, database: Database, *, bootstrap: bool = True) -> Access:
    """``bootstrap``: make the owner ``admin`` on a store without users (``shipyard up``)."""
    authenticator = Authenticator(database, ttl_s=settings.auth_cache_seconds) if settings.auth else None
    identity = IdentityService(
        database, on_change=authenticator.invalidate if authenticator else lambda: None
    )
    key = load_key(
        settings.home, None if settings.secret_key is None else settings.secret_key.get_secret_value()
    )
    secrets = SecretService(database, FernetCipher(key))
    first_token: str | None = None
    identity.purge_expired()
    if bootstrap:
        given = None if settings.admin_token is None else settings.admin_token.get_secret_value()
        made = identity.bootstrap_owner(given)
        if made is not None and given is None:
            _write_private(settings.home / ADMIN_TOKEN_FILE, made + "\n")
            first_token = made
    credentials = ProcessCredentials(identity, secrets, tokens=settings.auth)
    return Access(authenticator, identity, secrets, AuditLog(database), credentials, first_token)


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def install_guard(app: FastAPI, settings: Settings, access: Access) -> None:
    """The guard in front of every route; CORS outside it, so preflights get their answer."""
    hosts = HostPolicy.build(_split(settings.allowed_hosts), [settings.host, *_public_host(settings)])
    origins = _split(settings.cors_allowed_origins)
    app.add_middleware(
        Guard,
        hosts=hosts,
        cors_origins=origins,
        authenticator=access.authenticator,
        local_user=LOCAL_USER,
        audit=access.audit,
        max_json_bytes=settings.max_json_bytes,
        max_upload_bytes=settings.max_upload_bytes,
    )
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Shipyard-Workspace", "X-Content-SHA256"],
            allow_credentials=False,
        )


def _public_host(settings: Settings) -> list[str]:
    from urllib.parse import urlsplit

    if not settings.public_url:
        return []
    host = urlsplit(settings.public_url).hostname
    return [host] if host else []
