"""The one settings object. Read once at an entry point and passed down; never at request time."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ROLES", "Settings"]

ROLES = ("api", "jobs", "serving")
"""What a server process does: ``api`` answers the native and MLflow APIs and the web pages,
``jobs`` runs the job runner (claims queued jobs, adopts those of servers that stopped),
``serving`` runs deployments' workers and answers ``/endpoints/<name>/score``."""


def _default_home() -> Path:
    return Path.home() / ".shipyard"


class Settings(BaseSettings):
    """Server-side configuration; every field can be set as ``SHIPYARD_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="SHIPYARD_", extra="ignore")

    home: Path = Field(
        default_factory=_default_home,
        description="Folder holding the embedded database and the local artifact store.",
    )
    host: str = Field(default="127.0.0.1", description="Address the server binds to.")
    port: int = Field(
        default=5151, ge=0, le=65535, description="Port the server binds to (0 picks a free one)."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the metadata store; default: SQLite at <home>/shipyard.db.",
    )
    artifacts: str | None = Field(
        default=None,
        description="Root of the artifact store: a folder or an fsspec URL; default: <home>/artifacts.",
    )
    max_upload_bytes: int = Field(
        default=5 * 1024**3, gt=0, description="Largest artifact a single upload may carry."
    )
    max_metric_batch: int = Field(
        default=200_000, gt=0, description="Most metric points accepted in one bulk request."
    )
    log_level: str = Field(
        default="info", description="Log level of the server (debug, info, warning, error)."
    )
    public_url: str | None = Field(
        default=None,
        description="URL a job's process uses to reach this server (MLFLOW_TRACKING_URI);"
        " default: http://<host>:<port>, with 127.0.0.1 for a wildcard host.",
    )
    roles: str = Field(
        default="api,jobs,serving",
        description="Comma-separated roles of this server: api (the APIs and web pages), jobs (runs"
        " queued jobs; one such server per home), serving (deployments' workers and scoring).",
    )
    job_lease_seconds: float = Field(
        default=10.0,
        ge=2,
        le=600,
        description="How long a server's hold on a job or a deployment's rollout lasts unless"
        " renewed (every quarter of it); the jobs and rollouts of a server that stops are taken"
        " over by another within about this time.",
    )
    deployment_log_max_mib: int = Field(
        default=64,
        ge=0,
        le=1 << 20,
        description="How much of a deployment's workers' output (MiB) the serving servers share"
        " through the artifact store, readable by get-logs from any server; past it the output"
        " is only in each server's own deployment.log. 0: not shared.",
    )
    local_max_concurrent: int = Field(
        default=2,
        ge=1,
        le=1024,
        description="Jobs the built-in 'local' compute target runs at once; more wait in Queued.",
    )
    max_score_bytes: int = Field(
        default=16 * 1024**2,
        gt=0,
        description="Largest scoring request body an online endpoint accepts (413 beyond it).",
    )
    max_code_bytes: int = Field(
        default=100 * 1024**2,
        gt=0,
        description="Largest code snapshot a job may upload (after .gitignore/.amlignore).",
    )

    auth: bool = Field(
        default=True,
        description="Require a principal on every request but /healthz (`shipyard up --no-auth` turns it"
        " off, and is refused unless every bound address is loopback).",
    )
    admin_token: SecretStr | None = Field(
        default=None,
        description="Token of the owner 'admin' made on a fresh home's first start (for automation);"
        " default: a new one, written to <home>/admin.token and printed once.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Key that encrypts secrets at rest (Fernet, url-safe base64); servers sharing a"
        " database must share it. Default: <home>/secret.key, made on first start.",
    )
    allowed_hosts: str = Field(
        default="",
        description="Comma-separated extra Host names or addresses the server answers to (`*`"
        " wildcards, e.g. 'ml.example.com,10.0.*'); localhost names, loopback and bound addresses always.",
    )
    cors_allowed_origins: str = Field(
        default="",
        description="Comma-separated web origins allowed to call the API from a browser; default: none.",
    )
    auth_cache_seconds: float = Field(
        default=10.0,
        ge=0,
        le=3600,
        description="How long a verified token is trusted without asking the database (a revoke"
        " on this server applies at once; on another server within this time).",
    )
    studio_session_hours: float = Field(
        default=12.0,
        gt=0,
        le=24 * 30,
        description="How long a studio sign-in lasts; each is a token of the user's (`studio-…`) that"
        " signing out revokes.",
    )
    smtp_url: str | None = Field(
        default=None,
        description="Mail server for monitors' alert e-mails (alert_notification.emails of signals with"
        " alert_enabled): smtp://host:port (plain), smtps://host:port (TLS), user:password@ allowed."
        " Unset: breaches are recorded and shown, and no mail is sent.",
    )
    mail_from: str = Field(
        default="shipyard@localhost",
        description="The From address of alert e-mails.",
    )
    webhook_allow_private_ips: bool = Field(
        default=False,
        description="Let the model registry's webhooks call hosts that resolve to private, loopback"
        " or link-local addresses (a receiver inside the team's network). Off: only public"
        " addresses, as MLflow's default (MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS).",
    )
    max_json_bytes: int = Field(
        default=64 * 1024**2,
        gt=0,
        description="Largest request body of a non-upload API call (413 beyond it, before it is read).",
    )

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, value: str) -> str:
        given = [r.strip() for r in value.split(",") if r.strip()]
        unknown = sorted(set(given) - set(ROLES))
        if unknown or not given:
            what = f"unknown role {', '.join(map(repr, unknown))}" if unknown else "no role"
            raise ValueError(
                f"{what} in {value!r}: roles are api (the APIs and web pages), jobs (runs queued"
                " jobs) and serving (deployments' workers and scoring), separated by commas,"
                " e.g. 'api' for a front server, 'jobs' for a worker"
            )
        return ",".join(r for r in ROLES if r in given)

    def has_role(self, role: str) -> bool:
        return role in self.roles.split(",")

    @model_validator(mode="before")
    @classmethod
    def _run_jobs_was_split(cls, data: Any) -> Any:
        # Read here as well as from the arguments: an old SHIPYARD_RUN_JOBS=false left in a
        # service file would otherwise be ignored, and the server would run jobs it was told not to.
        given = isinstance(data, dict) and "run_jobs" in data
        if given or os.environ.get("SHIPYARD_RUN_JOBS") is not None:
            raise ValueError(
                "run_jobs (SHIPYARD_RUN_JOBS) was split into roles: roles='api' for a server that"
                " runs no jobs and no deployments, 'api,serving' for one that serves but runs no"
                " jobs; unset SHIPYARD_RUN_JOBS and set SHIPYARD_ROLES or --roles"
            )
        return data

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'shipyard.db').resolve()}"

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        # Worker and job processes run in other folders: a relative home would point elsewhere.
        return value.expanduser().resolve()

    def default_public_url(self, port: int | None = None) -> str:
        """``public_url``, else this server's address as a local job reaches it."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = self.host
        if host in ("0.0.0.0", "::", ""):  # noqa: S104 - a wildcard bind, reached locally
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port if port is None else port}"

    @property
    def jobs_dir(self) -> Path:
        """Each job's folder: code, inputs, outputs and its log (``<home>/jobs``)."""
        return self.home / "jobs"

    @property
    def environments_dir(self) -> Path:
        """The cache of built job environments, keyed by the hash of their spec."""
        return self.home / "envs"

    @property
    def compute_state_dir(self) -> Path:
        """State of the compute targets (the local target's process records)."""
        return self.home / "compute"

    def resolved_artifacts(self) -> str:
        if self.artifacts:
            return self.artifacts
        return str((self.home / "artifacts").resolve())
