"""Tables of online endpoints and their deployments.

Traffic, tags and the resolved deployment spec are JSON text: read whole, never queried
inside. Keys are stored as issued so ``get-credentials`` can show them again, as Azure's does.
"""

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
    false,
)

from shipyard.stores.sql.schema import metadata

__all__ = ["online_deployments", "online_endpoints"]

online_endpoints = Table(
    "online_endpoints",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("auth_mode", String(16), nullable=False),
    Column("description", Text, nullable=False),
    Column("tags", Text, nullable=False),
    Column("traffic", Text, nullable=False),
    Column("mirror_traffic", Text, nullable=False),
    Column("primary_key", String(128), nullable=False),
    Column("secondary_key", String(128), nullable=False),
    Column("spec", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("workspace_id", "name", name="uq_online_endpoints_workspace_name"),
)

online_deployments = Table(
    "online_deployments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("endpoint_id", Integer, ForeignKey("online_endpoints.id"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("revision", String(64), nullable=False),
    Column("spec", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    # Who brings a Creating/Updating deployment up, until when (renewed by its heartbeat;
    # NULL or lapsed: any server with the serving role may take it).
    Column("lease_owner", String(64), nullable=True),
    Column("lease_expires_at", BigInteger, nullable=True),
    # Route all live traffic to it once this revision succeeds (``--all-traffic``).
    Column("all_traffic", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("endpoint_id", "name", name="uq_online_deployments_endpoint_name"),
    # What a restart re-applies: every deployment in a given state.
    Index("ix_online_deployments_state", "state"),
)
