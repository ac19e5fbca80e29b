"""metric rollups: each large series' min and max point per block of steps, for charts

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 03:00:00.000000

Series logged before this revision have no rollups; their charts read the points (as
before) until the series takes a new batch past ROLLUP_FROM points, which builds them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_rollups",
        sa.Column("series_id", sa.Integer(), primary_key=True),
        sa.Column("shift", sa.Integer(), primary_key=True),
        sa.Column("bucket", sa.BigInteger(), primary_key=True),
        sa.Column("min_step", sa.BigInteger(), nullable=False),
        sa.Column("min_ts", sa.BigInteger(), nullable=False),
        sa.Column("min_value", sa.Float(), nullable=False),
        sa.Column("max_step", sa.BigInteger(), nullable=False),
        sa.Column("max_ts", sa.BigInteger(), nullable=False),
        sa.Column("max_value", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("metric_rollups")
