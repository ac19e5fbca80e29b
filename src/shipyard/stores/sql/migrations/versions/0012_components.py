"""components and pipeline step results

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 03:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "components",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("version", sa.String(length=128), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("code_digest", sa.String(length=128), nullable=True),
        sa.Column("environment", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("is_deterministic", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_components_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_components")),
        sa.UniqueConstraint("workspace_id", "name", "version", name="uq_components_workspace_name_version"),
    )
    op.create_table(
        "pipeline_step_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("reuse_key", sa.String(length=64), nullable=False),
        sa.Column("pipeline", sa.String(length=256), nullable=False),
        sa.Column("step", sa.String(length=256), nullable=False),
        sa.Column("job_name", sa.String(length=256), nullable=False),
        sa.Column("source_job", sa.String(length=256), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_pipeline_step_results_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_step_results")),
        sa.UniqueConstraint("workspace_id", "job_name", name="uq_pipeline_step_results_workspace_job"),
    )
    op.create_index(
        "ix_pipeline_step_results_key", "pipeline_step_results", ["workspace_id", "reuse_key", "id"]
    )
    op.create_index(
        "ix_pipeline_step_results_step", "pipeline_step_results", ["workspace_id", "pipeline", "step", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_pipeline_step_results_step", table_name="pipeline_step_results")
    op.drop_index("ix_pipeline_step_results_key", table_name="pipeline_step_results")
    op.drop_table("pipeline_step_results")
    op.drop_table("components")
