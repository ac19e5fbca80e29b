"""Tables of batch endpoints, their deployments and their invocations (one row per job)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from shipyard.stores.sql.schema import metadata

__all__ = ["batch_deployments", "batch_endpoints", "batch_invocations"]

batch_endpoints = Table(
    "batch_endpoints",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("description", Text, nullable=False),
    Column("tags", Text, nullable=False),
    Column("default_deployment", String(64), nullable=True),
    Column("spec", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("workspace_id", "name", name="uq_batch_endpoints_workspace_name"),
)

batch_deployments = Table(
    "batch_deployments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("endpoint_id", Integer, ForeignKey("batch_endpoints.id"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("spec", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("endpoint_id", "name", name="uq_batch_deployments_endpoint_name"),
)

batch_invocations = Table(
    "batch_invocations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("endpoint_id", Integer, ForeignKey("batch_endpoints.id"), nullable=False),
    Column("deployment", String(64), nullable=False),
    Column("job_name", String(128), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # list-jobs: an endpoint's invocations, newest first.
    Index("ix_batch_invocations_endpoint_created", "endpoint_id", "created_at"),
)
