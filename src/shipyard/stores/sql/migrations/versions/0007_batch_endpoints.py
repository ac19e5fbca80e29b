"""batch endpoints, deployments and invocations

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 09:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batch_endpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("default_deployment", sa.String(length=64), nullable=True),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_batch_endpoints_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_endpoints")),
        sa.UniqueConstraint("workspace_id", "name", name="uq_batch_endpoints_workspace_name"),
    )
    op.create_table(
        "batch_deployments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["batch_endpoints.id"],
            name=op.f("fk_batch_deployments_endpoint_id_batch_endpoints"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_deployments")),
        sa.UniqueConstraint("endpoint_id", "name", name="uq_batch_deployments_endpoint_name"),
    )
    op.create_table(
        "batch_invocations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("deployment", sa.String(length=64), nullable=False),
        sa.Column("job_name", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["batch_endpoints.id"],
            name=op.f("fk_batch_invocations_endpoint_id_batch_endpoints"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_invocations")),
    )
    with op.batch_alter_table("batch_invocations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_batch_invocations_endpoint_created", ["endpoint_id", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("batch_invocations", schema=None) as batch_op:
        batch_op.drop_index("ix_batch_invocations_endpoint_created")
    op.drop_table("batch_invocations")
    op.drop_table("batch_deployments")
    op.drop_table("batch_endpoints")
