"""registry webhooks: MLflow 3's webhooks with the events they follow

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhooks",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("creation_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("last_updated_timestamp", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_webhooks_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
    )
    op.create_index("ix_webhooks_workspace_created", "webhooks", ["workspace_id", "creation_timestamp"])
    op.create_table(
        "webhook_events",
        sa.Column("webhook_id", sa.String(length=64), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["webhook_id"], ["webhooks.id"], name=op.f("fk_webhook_events_webhook_id_webhooks")
        ),
        sa.PrimaryKeyConstraint("webhook_id", "entity", "action", name=op.f("pk_webhook_events")),
    )
    op.create_index("ix_webhook_events_event", "webhook_events", ["entity", "action"])


def downgrade() -> None:
    op.drop_index("ix_webhook_events_event", table_name="webhook_events")
    op.drop_table("webhook_events")
    op.drop_index("ix_webhooks_workspace_created", table_name="webhooks")
    op.drop_table("webhooks")
