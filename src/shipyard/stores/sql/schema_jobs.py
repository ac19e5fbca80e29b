"""Tables of the "develop" stage: environments, compute targets, jobs and their status events,
and the chunks of the logs that jobs and deployments write through the artifact store.

Specs are stored as JSON text: they are read whole and never queried inside, and JSON text
behaves the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    true,
)

from shipyard.stores.sql.schema import metadata

__all__ = ["computes", "environments", "job_events", "jobs", "log_chunks"]

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
    # The attempt (1, then one more per retry), the lease of the server running it (its node
    # id and when the lease lapses unless renewed, epoch ms), and where the attempt was
    # submitted (JSON: what another server needs to adopt it).
    Column("attempt", Integer, nullable=False, server_default="1"),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_expires_at", BigInteger, nullable=True),
    Column("placement", Text, nullable=True),
    # The job's type; a composite one (not a leaf) expands into child jobs, which name it as
    # their parent and their place in it (``step``); ``report`` is what its type says of it.
    Column("type", String(32), nullable=False, server_default="command"),
    Column("leaf", Boolean, nullable=False, server_default=true()),
    Column("parent_id", Integer, ForeignKey("jobs.id", name="fk_jobs_parent_id"), nullable=True),
    Column("step", String(128), nullable=True),
    Column("report", Text, nullable=True),
    UniqueConstraint("workspace_id", "name", name="uq_jobs_workspace_name"),
    Index("ix_jobs_parent", "parent_id", "id"),
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

log_chunks = Table(
    "log_chunks",
    metadata,
    Column("id", Integer, primary_key=True),
    # The log's name, also the prefix of its chunks' keys: ``<workspace>/_logs/jobs/<job>``.
    Column("stream", String(512), nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("size", Integer, nullable=False),
    Column("key", String(1024), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # A reader's question is "the chunks of this log from this offset on".
    UniqueConstraint("stream", "offset", name="uq_log_chunks_stream_offset"),
)
