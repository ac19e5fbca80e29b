"""Tables of the "develop" stage: environments, compute targets, jobs and their status events.

Specs are stored as JSON text: they are read whole and never queried inside, and JSON text
behaves the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from shipyard.stores.sql.schema import metadata

__all__ = ["computes", "environments", "job_events", "jobs"]

environments = Table(
    "environments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("version", String(64), nullable=False),
    Column("spec", Text, nullable=False),
    Column("spec_hash", String(64), nullable=False),
    Column("description", Text, nullable=False),
    Column("tags", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=False),
    UniqueConstraint("workspace_id", "name", "version", name="uq_environments_workspace_name_version"),
)

computes = Table(
    "computes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("max_concurrent", Integer, nullable=False),
    Column("address", String(1024), nullable=True),
    Column("description", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=False),
    UniqueConstraint("workspace_id", "name", name="uq_computes_workspace_name"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("display_name", String(256), nullable=False),
    Column("experiment_id", Integer, ForeignKey("experiments.id"), nullable=False),
    Column("run_id", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("compute", String(256), nullable=False),
    Column("command", Text, nullable=False),
    Column("spec", Text, nullable=False),
    Column("code_digest", String(64), nullable=True),
    Column("environment_hash", String(64), nullable=True),
    Column("timeout_s", Float, nullable=True),
    Column("failure", Text, nullable=True),
    Column("canceled_by", String(256), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("workspace_id", "name", name="uq_jobs_workspace_name"),
    # The runner's queue: oldest job first among those in a given status.
    Index("ix_jobs_status_id", "status", "id"),
)

job_events = Table(
    "job_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("job_id", Integer, ForeignKey("jobs.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("message", Text, nullable=False),
    Index("ix_job_events_job", "job_id", "id"),
)
