"""The one settings object. Read once at an entry point and passed down; never at request time."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


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

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'shipyard.db').resolve()}"

    def resolved_artifacts(self) -> str:
        if self.artifacts:
            return self.artifacts
        return str((self.home / "artifacts").resolve())
