"""model promotions: alias protections, promotion requests and their approvals

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 06:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_protections",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("workspace_id", sa.Integer(), sa.ForeignKey("workspaces.id"), nullable=False),
        sa.Column("model", sa.String(length=256), nullable=False),
        sa.Column("alias", sa.String(length=256), nullable=False),
        sa.Column("approvals", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.UniqueConstraint("workspace_id", "model", "alias", name="uq_model_protections_target"),
    )
    op.create_table(
        "model_promotions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("workspace_id", sa.Integer(), sa.ForeignKey("workspaces.id"), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("alias", sa.String(length=256), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("required_approvals", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.String(length=256), nullable=False),
        sa.Column("requested_at", sa.BigInteger(), nullable=False),
        sa.Column("decided_at", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.String(length=600), nullable=True),
        sa.Column("previous_version", sa.Integer(), nullable=True),
    )
    op.create_index("ix_model_promotions_workspace_name", "model_promotions", ["workspace_id", "name"])
    op.create_table(
        "model_promotion_decisions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("promotion_id", sa.Integer(), sa.ForeignKey("model_promotions.id"), nullable=False),
        sa.Column("principal", sa.String(length=256), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("promotion_id", "principal", name="uq_model_promotion_decisions_principal"),
    )


def downgrade() -> None:
    op.drop_table("model_promotion_decisions")
    op.drop_index("ix_model_promotions_workspace_name", table_name="model_promotions")
    op.drop_table("model_promotions")
    op.drop_table("model_protections")
