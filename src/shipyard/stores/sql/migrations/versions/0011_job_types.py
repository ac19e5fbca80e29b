"""job types: a job's type, its parent and step, whether it is a leaf, and its type's report

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every job before this revision is a command job: a leaf with no parent.
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("type", sa.String(length=32), server_default="command", nullable=False))
        batch.add_column(sa.Column("leaf", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch.add_column(
            sa.Column(
                "parent_id", sa.Integer(), sa.ForeignKey("jobs.id", name="fk_jobs_parent_id"), nullable=True
            )
        )
        batch.add_column(sa.Column("step", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("report", sa.Text(), nullable=True))
        batch.create_index("ix_jobs_parent", ["parent_id", "id"])


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_parent")
        batch.drop_column("report")
        batch.drop_column("step")
        batch.drop_column("parent_id")
        batch.drop_column("leaf")
        batch.drop_column("type")
