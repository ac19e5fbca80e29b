"""Tables of alias protections, promotion requests and the decisions on them."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from shipyard.stores.sql.schema import metadata

__all__ = ["model_promotion_decisions", "model_promotions", "model_protections"]

model_protections = Table(
    "model_protections",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), nullable=False),
    Column("model", String(256), nullable=False),  # a model name or "*"
    Column("alias", String(256), nullable=False),  # an alias or "*"
    Column("approvals", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=False),
    UniqueConstraint("workspace_id", "model", "alias", name="uq_model_protections_target"),
)

model_promotions = Table(
    "model_promotions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("version", Integer, nullable=False),
    Column("alias", String(256), nullable=False),
    Column("state", String(16), nullable=False),
    Column("required_approvals", Integer, nullable=False),
    Column("requested_by", String(256), nullable=False),
    Column("requested_at", BigInteger, nullable=False),
    Column("decided_at", BigInteger, nullable=True),
    Column("source", String(600), nullable=True),
    Column("previous_version", Integer, nullable=True),
    Index("ix_model_promotions_workspace_name", "workspace_id", "name"),
)

model_promotion_decisions = Table(
    "model_promotion_decisions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("promotion_id", Integer, ForeignKey("model_promotions.id"), nullable=False),
    Column("principal", String(256), nullable=False),
    Column("decision", String(16), nullable=False),
    Column("comment", Text, nullable=False),
    Column("at", BigInteger, nullable=False),
    # One decision per principal: approving twice does not count twice, whatever the race.
    UniqueConstraint("promotion_id", "principal", name="uq_model_promotion_decisions_principal"),
)
