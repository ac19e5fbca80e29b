"""Components, and the completed pipeline steps a later step may reuse. JSON columns are read
whole, never queried; the step results are found by their reuse key or by (pipeline, step)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from shipyard.stores.sql.schema import metadata

__all__ = ["components", "step_results"]

components = Table(
    "components",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("version", String(128), nullable=False),
    Column("spec", Text, nullable=False),
    Column("code_digest", String(128), nullable=True),
    Column("environment", Text, nullable=True),
    Column("description", Text, nullable=False),
    Column("tags", Text, nullable=False),
    Column("is_deterministic", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=False),
    UniqueConstraint("workspace_id", "name", "version", name="uq_components_workspace_name_version"),
)

step_results = Table(
    "pipeline_step_results",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), nullable=False),
    Column("reuse_key", String(64), nullable=False),
    Column("pipeline", String(256), nullable=False),
    Column("step", String(256), nullable=False),
    Column("job_name", String(256), nullable=False),
    Column("source_job", String(256), nullable=False),
    Column("run_id", String(64), nullable=False),
    Column("fingerprint", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("workspace_id", "job_name", name="uq_pipeline_step_results_workspace_job"),
    Index("ix_pipeline_step_results_key", "workspace_id", "reuse_key", "id"),
    Index("ix_pipeline_step_results_step", "workspace_id", "pipeline", "step", "id"),
)
