"""``batch-endpoint.yml`` and ``batch-deployment.yml``: Azure ML's batch endpoint and model
batch deployment, as Shipyard reads them, and :func:`load_batch_deployment`, which checks the
files a deployment points at before anything is uploaded.

Both layouts of Azure's deployment schema are read: the current one with the scoring
settings under ``settings:`` (``modelBatchDeployment``) and the older one with them at the top
level (``batchDeployment``). ``output: {sql_url, table}`` is Shipyard's own: the predictions
also land in that table (SQLite or PostgreSQL). Fields Azure accepts that mean nothing on one
host are kept and reported by ``notes()``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from shipyard.domain.redact import hide_passwords
from shipyard.domain.secret_refs import has_secret_refs
from shipyard.domain.validation import INT64_MAX
from shipyard.errors import InvalidSpec
from shipyard.specs._base import SpecModel, StrictModel, scalar_map, visible
from shipyard.specs.deployment import CodeConfiguration, InlineModel, LoadedDeployment, load_deployment_file
from shipyard.specs.endpoint import NAME_PATTERN
from shipyard.specs.environment import InlineEnvironment
from shipyard.specs.refs import parse_asset_ref

__all__ = [
    "BATCH_SETTINGS_FIELDS",
    "BatchDeploymentSpec",
    "BatchEndpointSpec",
    "BatchSettings",
    "LoadedBatchDeployment",
    "RetrySettings",
    "SqlOutput",
    "load_batch_deployment",
]

_TABLE = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]{0,62}\.)?[A-Za-z_][A-Za-z0-9_]{0,62}$")
_SQL_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg", "postgres")
_SECRET_ONLY = re.compile(r"\$\{\{\s*secrets\.[A-Za-z_][A-Za-z0-9_-]*\s*\}\}")


class BatchEndpointSpec(SpecModel):
    """``shipyard batch-endpoint create -f endpoint.yml``.

    Azure's batch endpoints only know ``auth_mode: aad_token``; Shipyard's server decides who
    may invoke, so the field is read and noted, never refused."""

    spec_kind: ClassVar[str] = "batch endpoint"

    name: Annotated[str, visible("endpoint")] = Field(pattern=NAME_PATTERN)
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    auth_mode: str | None = None
    defaults: dict[str, str] | None = None
    properties: dict[str, Any] | None = None

    _scalars = field_validator("tags", mode="before")(scalar_map)

    def notes(self) -> list[str]:
        out = []
        if self.auth_mode:
            out.append("auth_mode: batch endpoints are invoked with the server's own access rules")
        if self.properties:
            out.append("properties: kept with the endpoint as metadata")
        return out


class RetrySettings(StrictModel):
    """A mini-batch that raises (or runs past ``timeout`` seconds) is tried again, at most
    ``max_retries`` more times — Azure's defaults."""

    max_retries: int = Field(default=3, ge=0, le=100)
    timeout: int = Field(default=30, ge=1, le=86_400)


class SqlOutput(StrictModel):
    """Shipyard's extension: the predictions also go into ``table`` of the database ``sql_url``
    (``sqlite:////abs/path.db`` or ``postgresql://user@host:5432/db``), created if missing."""

    sql_url: str
    table: str

    @field_validator("sql_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if _SECRET_ONLY.fullmatch(value.strip()):
            return value.strip()  # the whole URL is a secret: checked when the job starts
        scheme, sep, rest = value.partition("://")
        userinfo = rest.partition("@")[0] if "@" in rest.partition("/")[0] else ""
        password = userinfo.partition(":")[2]
        if password and not has_secret_refs(password):
            raise ValueError(
                f"'{hide_passwords(value)}' holds a password in clear, which would be stored and shown"
                " with the deployment: keep it as a secret (`shipyard secret set PG_PASSWORD"
                " --value-file pw.txt`) and write user:${{secrets.PG_PASSWORD}}@host"
            )
        if not sep or scheme.lower() not in _SQL_SCHEMES:
            raise ValueError(
                f"'{hide_passwords(value)}' is not a SQLite or PostgreSQL URL; write"
                " sqlite:////absolute/path.db or postgresql://user@host:5432/database"
            )
        if scheme.lower() == "sqlite":
            path = rest[1:] if rest.startswith("/") else rest
            if not path or path == ":memory:" or not Path(path).is_absolute():
                raise ValueError(
                    f"'{value}': a SQLite target needs an absolute file path (sqlite:////data/preds.db);"
                    " the job runs in its own folder, where a relative path would mean nothing"
                )
        elif not rest.partition("/")[2]:
            raise ValueError(f"'{hide_passwords(value)}' names no database (…/<database>)")
        return value

    @field_validator("table")
    @classmethod
    def _table(cls, value: str) -> str:
        if not _TABLE.match(value):
            raise ValueError(
                f"'{value}' is not a table name: letters, digits and '_' (optionally schema.table)"
            )
        return value


class BatchSettings(StrictModel):
    mini_batch_size: int = Field(default=10, ge=1, le=10_000_000)
    max_concurrency_per_instance: int = Field(default=1, ge=1, le=256)
    retry_settings: RetrySettings = Field(default_factory=RetrySettings)
    error_threshold: int = Field(default=-1, ge=-1, le=INT64_MAX)
    logging_level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    output_action: Literal["append_row", "summary_only"] = "append_row"
    output_file_name: str = "predictions.csv"
    environment_variables: dict[str, str] = Field(default_factory=dict)

    _scalars = field_validator("environment_variables", mode="before")(scalar_map)

    @field_validator("logging_level", "output_action", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("output_file_name")
    @classmethod
    def _file_name(cls, value: str) -> str:
        if not value.strip() or "/" in value or "\\" in value or value in (".", ".."):
            raise ValueError(f"'{value}' must be a file name (no folders), such as predictions.csv")
        return value


#: The scoring settings: under ``settings:`` in Azure's current schema, top-level in the older one.
BATCH_SETTINGS_FIELDS = tuple(BatchSettings.model_fields)


class BatchDeploymentSpec(SpecModel):
    """``shipyard batch-deployment create -f deployment.yml``."""

    spec_kind: ClassVar[str] = "batch deployment"

    name: Annotated[str, visible("deployment")] = Field(pattern=NAME_PATTERN)
    endpoint_name: Annotated[str, visible("endpoint")] = Field(pattern=NAME_PATTERN)
    type: Literal["model"] | None = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    model: str | InlineModel | None = None
    code_configuration: CodeConfiguration | None = None
    environment: str | InlineEnvironment | None = None
    compute: str | None = None
    resources: dict[str, Any] = Field(default_factory=dict)
    settings: BatchSettings = Field(default_factory=BatchSettings)
    output: SqlOutput | None = None
    properties: dict[str, Any] | None = None

    _scalars = field_validator("tags", mode="before")(scalar_map)

    @model_validator(mode="before")
    @classmethod
    def _legacy_layout(cls, data: Any) -> Any:
        """The older schema's top-level settings move under ``settings``."""
        if not isinstance(data, Mapping):
            return data
        top = {k: v for k, v in data.items() if k in BATCH_SETTINGS_FIELDS}
        if not top:
            return data
        nested = data.get("settings")
        merged = {**(nested if isinstance(nested, Mapping) else {}), **top}
        return {**{k: v for k, v in data.items() if k not in top}, "settings": merged}

    @field_validator("type", mode="before")
    @classmethod
    def _model_only(cls, value: Any) -> Any:
        if isinstance(value, str) and value.lower() == "pipeline":
            raise ValueError("pipeline batch deployments are not supported; deploy a model (type: model)")
        return value.lower() if isinstance(value, str) else value

    @field_validator("model", "environment", mode="before")
    @classmethod
    def _ref(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                raise ValueError("is empty; name a registered asset (azureml:<name>:<version>) or a folder")
            if value.startswith("azureml:"):
                try:
                    parse_asset_ref(value)
                except InvalidSpec as exc:
                    raise ValueError(exc.message) from None
        return value

    @field_validator("resources")
    @classmethod
    def _instances(cls, value: dict[str, Any]) -> dict[str, Any]:
        count = value.get("instance_count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 64:
            raise ValueError(f"instance_count is {count!r}; give a whole number from 1 to 64")
        return value

    @model_validator(mode="after")
    def _checks(self) -> BatchDeploymentSpec:
        if self.model is None:
            raise ValueError("a batch deployment needs a 'model' (azureml:<name>:<version> or a folder)")
        if self.output is not None and self.settings.output_action == "summary_only":
            raise ValueError(
                "output names a SQL table but output_action is summary_only, which writes no rows;"
                " use output_action: append_row"
            )
        return self

    @property
    def instance_count(self) -> int:
        return int(self.resources.get("instance_count", 1))

    @property
    def compute_name(self) -> str:
        return (self.compute or "local").removeprefix("azureml:")

    def notes(self) -> list[str]:
        out = []
        if set(self.resources) - {"instance_count"}:
            out.append("resources: only instance_count is used")
        if self.instance_count > 1:
            out.append(
                f"resources.instance_count: {self.instance_count} instances score as"
                f" {self.instance_count} x max_concurrency_per_instance threads of one job process"
            )
        if isinstance(self.environment, InlineEnvironment) and self.environment.image:
            out.append(f"environment.image '{self.environment.image}' is not pulled: no container engine")
        if self.properties:
            out.append("properties: kept with the deployment as metadata")
        return out


LoadedBatchDeployment = LoadedDeployment[BatchDeploymentSpec]


def load_batch_deployment(path: Path, overrides: Sequence[str] = ()) -> LoadedBatchDeployment:
    """Read a batch deployment file (with ``--set`` overrides) and check the files it points at."""
    return load_deployment_file(path, BatchDeploymentSpec, overrides, model_files_too=False)
