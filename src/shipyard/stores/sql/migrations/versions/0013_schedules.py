"""schedules: job schedules and their firings, one per tick

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("workspace_id", sa.Integer(), sa.ForeignKey("workspaces.id"), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=256), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("trigger", sa.Text(), nullable=False),
        sa.Column("catch_up", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("job", sa.Text(), nullable=False),
        sa.Column("job_type", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("workspace_id", "name", name="uq_schedules_workspace_name"),
    )
    op.create_table(
        "schedule_firings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("schedule_id", sa.Integer(), sa.ForeignKey("schedules.id"), nullable=False),
        sa.Column("tick_at", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("job_name", sa.String(length=128), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("node", sa.String(length=128), nullable=False),
        sa.Column("caught_up", sa.Boolean(), nullable=False),
        sa.Column("last_tick_at", sa.BigInteger(), nullable=True),
        sa.Column("missed_count", sa.Integer(), nullable=False),
        sa.UniqueConstraint("schedule_id", "tick_at", name="uq_schedule_firings_tick"),
    )
    op.create_index("ix_schedule_firings_status_at", "schedule_firings", ["status", "at"])


def downgrade() -> None:
    op.drop_index("ix_schedule_firings_status_at", table_name="schedule_firings")
    op.drop_table("schedule_firings")
    op.drop_table("schedules")
