"""deployment leases: any server with the serving role brings a deployment up

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-20 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A Creating/Updating deployment of an older server carries no lease: a NULL lease counts
    # as lapsed, so the first serving server to start after the upgrade brings it up.
    # ``all_traffic``: the create/update asked for all live traffic once it succeeds (was a
    # file in the receiving server's home, which another server cannot see).
    with op.batch_alter_table("online_deployments") as batch:
        batch.add_column(sa.Column("lease_owner", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("lease_expires_at", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("all_traffic", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("online_deployments") as batch:
        batch.drop_column("all_traffic")
        batch.drop_column("lease_expires_at")
        batch.drop_column("lease_owner")
